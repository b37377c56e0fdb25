"""The OpenAPI 3.1 description: valid, complete both ways, and matched by the real answers of every operation."""

from __future__ import annotations

import io
import json
import re
import time
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator
from PIL import Image

from swatch.catalog.db import Catalog
from swatch.config import Settings
from swatch.web import create_app
from swatch.web.openapi import SPEC_PATH, spec_for

METHODS = ("get", "post", "put", "patch", "delete")
_RULE_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def openapi_path(rule: str) -> str:
    """A Flask rule as an OpenAPI path: /api/images/<int:image_id> -> /api/images/{image_id}."""
    return _RULE_ARG.sub(r"{\1}", rule)


def flask_operations(app: Any) -> set[tuple[str, str]]:
    return {(openapi_path(rule.rule), method.lower()) for rule in app.url_map.iter_rules()
            if rule.endpoint != "static" for method in rule.methods - {"HEAD", "OPTIONS"}}


def documented_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method) for path, item in spec["paths"].items() for method in METHODS if method in item}


def test_the_description_is_valid_openapi_3_1(client, settings):
    stored = json.loads(SPEC_PATH.read_text())
    OpenAPIV31SpecValidator(stored).validate()
    served = client.get("/openapi.json")
    assert served.status_code == 200 and served.mimetype == "application/json"
    spec = served.get_json()
    assert spec["openapi"].startswith("3.1") and spec == spec_for(settings)
    OpenAPIV31SpecValidator(spec).validate()
    ids = [op["operationId"] for path, item in spec["paths"].items() for m, op in item.items() if m in METHODS]
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def test_every_route_is_documented_and_every_documented_operation_exists(app, client):
    spec = client.get("/openapi.json").get_json()
    routes, documented = flask_operations(app), documented_operations(spec)
    assert routes - documented == set(), "routes missing from openapi.json"
    assert documented - routes == set(), "documented operations the app does not have"
    for path, method in documented:  # admin operations say so, and answer 401/403 as documented
        op = spec["paths"][path][method]
        if op.get("security"):
            assert {"401", "403"} <= set(op["responses"]), (method, path)
            assert [s for req in op["security"] for s in req] == ["bearerAuth", "adminToken"]


def test_bounds_follow_the_settings(data_dir):
    small = Settings.from_env(data_dir=data_dir, max_top_n=50, default_top_n=20)
    client = create_app({"TESTING": True, "SETTINGS": small}).test_client()
    spec = client.get("/openapi.json").get_json()
    top_n = spec["components"]["parameters"]["topN"]["schema"]
    assert (top_n["maximum"], top_n["default"]) == (50, 20)
    assert spec["components"]["parameters"]["per_page"]["schema"]["maximum"] == 50
    assert spec["components"]["schemas"]["SearchRequest"]["properties"]["topN"]["maximum"] == 50
    assert client.get("/api/images?per_page=50").status_code == 200
    assert client.get("/api/images?per_page=51").status_code == 400


def test_the_docs_page_shows_every_operation_without_inline_script(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    spec = client.get("/openapi.json").get_json()
    for path, method in documented_operations(spec):
        op = spec["paths"][path][method]
        assert f'id="{op["operationId"].replace(".", "-")}"' in html, (method, path)
        assert f"<code>{method.upper()} {path}</code>" in html
    for name in spec["components"]["schemas"]:
        assert f'id="schema-{name}"' in html
    assert "topN" in html and "integer 1..1000 (default 100)" in html and "admin token" in html
    assert "<script>" not in html and not re.search(r"<script(?![^>]*\ssrc=)", html)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "no CDN or other origin"


class Checker:
    """Calls the app and validates each answer against the operation's documented response."""

    def __init__(self, app: Any, spec: dict[str, Any]):
        self.app, self.client, self.spec = app, app.test_client(), spec
        self.seen: set[tuple[str, str, str]] = set()
        self.adapter = app.url_map.bind("localhost")

    def operation(self, method: str, url: str) -> tuple[str, dict[str, Any]]:
        endpoint, _ = self.adapter.match(url.split("?", 1)[0], method.upper())
        rules = [r for r in self.app.url_map.iter_rules() if r.endpoint == endpoint and method.upper() in r.methods]
        path = openapi_path(rules[0].rule)
        return path, self.spec["paths"][path][method]

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            section, name = node["$ref"].split("/")[-2:]
            node = self.spec["components"][section][name]
        return node

    def validate(self, instance: Any, schema: dict[str, Any], what: str) -> None:
        root = {**schema, "components": self.spec["components"]}
        errors = list(jsonschema.Draft202012Validator(root).iter_errors(instance))
        assert not errors, f"{what}: {errors[0].message} at {list(errors[0].absolute_path)}"

    def __call__(self, method: str, url: str, status: int, **kwargs: Any) -> Any:
        resp = self.client.open(url, method=method.upper(), **kwargs)
        resp.get_data()
        resp.close()  # a WSGI server closes the body (an opened file) once sent; so does this
        assert resp.status_code == status, (method, url, resp.status_code, resp.get_data(as_text=True)[:300])
        path, op = self.operation(method, url)
        documented = op["responses"].get(str(status))
        assert documented is not None, f"{method.upper()} {path} answered an undocumented {status}"
        documented = self.resolve(documented)
        what = f"{method.upper()} {url} -> {status}"
        content = documented.get("content", {})
        media = next((m for m in content if re.fullmatch(m.replace("*", ".+"), resp.mimetype)), None)
        assert media is not None, f"{what}: content type {resp.mimetype} is not one of {list(content)}"
        if media == "application/json":
            self.validate(resp.get_json(), content[media]["schema"], what)
        for name, header in documented.get("headers", {}).items():
            assert name in resp.headers, f"{what}: header {name} missing"
            raw = resp.headers[name]
            kind = header["schema"].get("type")
            value = int(raw) if kind == "integer" else float(raw) if kind == "number" else raw
            self.validate(value, header["schema"], f"{what} header {name}")
        self.seen.add((path, method, str(status)))
        return resp

    def job_done(self, job_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            job = self("get", f"/api/jobs/{job_id}", 200).get_json()
            if job["state"] not in ("queued", "running"):
                return job
            time.sleep(0.1)
        pytest.fail(f"job {job_id} did not finish")


def png(path: Any) -> bytes:
    buf = io.BytesIO()
    Image.open(path).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


def test_real_answers_of_every_operation_match_the_description(app, settings, admin_headers, tmp_path,
                                                               demo_images):
    spec = app.test_client().get("/openapi.json").get_json()
    call = Checker(app, spec)
    bad_token = {"Authorization": "Bearer not-the-token"}

    for page in ("/", "/training", "/api/docs", "/openapi.json", "/health", "/livez", "/readyz", "/metrics",
                 "/api/facets", "/api/models", "/api/clusters", "/api/feedback/summary", "/api/jobs"):
        call("get", page, 200)

    # catalogue and files
    listing = call("get", "/api/images?per_page=40&q=&season=2023-AW&season=2024-AW", 200).get_json()
    assert listing["images"] and {i["season"] for i in listing["images"]} <= {"2023-AW", "2024-AW"}
    every = call("get", "/api/images?per_page=100", 200).get_json()["images"]
    call("get", "/api/images?per_page=0", 400)
    call("get", '/api/images?composition={"fiber": "WV", "min": 50}', 200)
    call("get", '/api/images?cluster={"version": "v9", "ids": [1]}', 400)
    first = every[0]
    call("get", f"/api/images/{first['id']}", 200)
    call("get", "/api/images/987654", 404)
    call("get", f"/api/images/{first['id']}/palette?k=3", 200)
    call("get", f"/api/images/{first['id']}/palette?k=99", 400)
    call("get", "/api/images/987654/palette", 404)
    call("get", f"/images/{first['id']}/file", 200)
    call("get", "/images/987654/file", 404)
    call("get", f"/images/{first['id']}/thumbnail", 200)
    call("get", "/images/987654/thumbnail", 404)
    call("get", first["thumbnail"], 200)
    call("get", "/thumbnails/00/missing.jpg", 404)
    upload = png(Catalog(settings.database).image(first["id"]).full_path)
    call("post", "/api/palette?k=4", 200, data={"image": (io.BytesIO(upload), "q.png")})
    call("post", "/api/palette", 400, data={"other": "x"})

    # search
    hits = call("get", f"/find-similar?id={first['id']}&topN=5&model=color&metric=euclidean", 200).get_json()
    assert len(hits) == 5 and first["id"] not in {h["id"] for h in hits}
    call("get", f"/find-similar?filename={first['filename']}&model=color%2Bpattern&weight=0.3&topN=3", 200)
    call("get", "/find-similar?id=abc", 400)
    call("get", "/find-similar?filename=no-such-file.jpg", 404)
    call("post", "/find-similar", 200, json={"filename": first["path"], "topN": 4, "model": "pattern",
                                             "composition": {"fiber": "WV", "min": 10}})
    call("post", "/find-similar", 400, json={"filename": first["path"], "topN": 0})
    shown = [h["id"] for h in hits]
    call("post", "/find-similar/refine", 200, json={"ids": [first["id"]], "liked": shown[1:2], "disliked": shown[:1],
                                                    "shown": shown, "topN": 4, "model": "color", "store": False})
    call("post", "/find-similar/refine", 400, json={"ids": [first["id"]], "liked": [shown[0]], "disliked": [shown[0]]})
    queue = call("get", "/api/learn/queue?n=3", 200).get_json()
    assert queue["version"] and len(queue["pairs"]) <= 3
    call("get", "/api/learn/queue?n=0", 400)
    found = call("post", "/api/search", 200, data={"image": (io.BytesIO(upload), "q.png"), "model": "color",
                                                   "topN": "3"}).get_json()
    assert found[0]["id"] == first["id"]
    call("post", "/api/search", 400, data={"image": (io.BytesIO(b"not an image"), "q.png"), "model": "color"})
    call("post", "/api/compare", 200, json={"ids": [every[0]["id"], every[1]["id"], every[2]["id"]]})
    call("post", "/api/compare", 400, json={"ids": [first["id"]]})
    call("post", "/api/compare", 404, json={"ids": [first["id"], 987654]})
    call("post", "/api/harmony", 200, json={"id": first["id"], "rule": "complementary", "topN": 5})
    call("post", "/api/harmony", 200, json={"color": "#c0603a", "rule": "analogous", "season": "2023-AW"})
    call("post", "/api/harmony", 400, json={"color": "#c0603a", "rule": "pentadic"})
    call("post", "/api/harmony", 404, json={"id": 987654, "rule": "triadic"})
    picked = [{"hex": "#1f2a44", "share": 0.6}, {"hex": "#f0e8d8", "share": 0.4}]
    assert len(call("post", "/api/search/colors", 200, json={"colors": picked, "topN": 5}).get_json()) == 5
    call("post", "/api/search/colors", 400, json={"colors": []})
    call("post", "/api/admin/login", 404, json={"code": "no-link-on-this-server"})
    from swatch.web import admin_link

    code = admin_link.arm(app)
    call("post", "/api/admin/login", 403, json={"code": "not-the-code"})
    assert call("post", "/api/admin/login", 200, json={"code": code}).get_json() == {"token": settings.admin_token}
    call("post", "/api/admin/login", 403, json={"code": code})  # once only
    call("post", "/api/admin/login", 400, json={"code": 5})

    # clusters, as an admin
    call("post", "/api/clusters", 401, json={"model": "pattern", "k": 4})
    call("post", "/api/clusters", 403, json={"model": "pattern", "k": 4}, headers=bad_token)
    call("post", "/api/clusters", 400, json={"model": "pattern", "k": 1}, headers=admin_headers)
    started = call("post", "/api/clusters", 202, json={"model": "pattern", "k": 4, "seed": 3},
                   headers=admin_headers).get_json()
    assert call.job_done(started["job"])["state"] == "done"
    job = call.job_done(call("post", "/api/clusters", 202, json={"model": "color", "k": 3},
                             headers=admin_headers).get_json()["job"])
    call("post", f"/api/jobs/{job['id']}/cancel", 409, headers=admin_headers)
    call("post", "/api/jobs/nope/cancel", 404, headers=admin_headers)
    call("get", "/api/jobs/nope", 404)
    call("get", "/api/clusters?model=pattern", 200)
    detail = call("get", "/api/clusters/v1?limit=2", 200).get_json()
    call("get", "/api/clusters/v1?limit=-1", 400)
    call("get", "/api/clusters/v99", 404)
    call("get", "/api/clusters/pattern/v1?cluster=1", 200)
    call("get", "/api/clusters/pattern/v1?cluster=x", 400)
    call("get", "/api/clusters/color/v1", 404)
    call("get", "/api/clusters/compare?a=v1&b=v2", 200)
    call("get", "/api/clusters/compare?a=v1", 400)
    call("get", "/api/clusters/compare?a=v1&b=v77", 404)
    member = detail["clusters"][0]["members"][0]["id"]
    call("post", "/api/clusters/v1/move", 200, json={"ids": [member], "to": 1, "by": "ana"}, headers=admin_headers)
    call("post", "/api/clusters/v1/move", 400, json={"ids": [member], "to": 99}, headers=admin_headers)
    call("post", "/api/clusters/v77/move", 404, json={"ids": [member], "to": 1}, headers=admin_headers)
    call("post", "/api/clusters/v1/move", 401, json={"ids": [member], "to": 1})
    call("post", "/api/clusters/v1/move", 403, json={"ids": [member], "to": 1}, headers=bad_token)
    assert call("get", "/api/clusters/v1/moves", 200).get_json()["moves"][0]["moved_by"] == "ana"
    call("get", "/api/clusters/v1/moves?limit=0", 400)
    call("get", "/api/clusters/v77/moves", 404)
    call("get", "/api/clusters/v1/export.csv", 200)
    call("get", "/api/clusters/v77/export.csv", 404)
    # other clustering methods, cluster editing, comments on versions
    assert call("get", "/api/clusters/suggest-eps?model=pattern&min_samples=3", 200).get_json()["eps"] > 0
    call("get", "/api/clusters/suggest-eps?model=pattern&min_samples=1", 400)
    call("get", "/api/clusters/suggest-eps?model=nope", 404)
    call("post", "/api/clusters", 400, json={"model": "pattern", "method": "dbscan", "eps": 0.000001},
         headers=admin_headers)
    job = call.job_done(call("post", "/api/clusters", 202, json={"model": "pattern", "method": "agglomerative",
                                                                 "k": 3, "linkage": "average"},
                             headers=admin_headers).get_json()["job"])
    assert job["state"] == "done" and job["result"]["method"] == "agglomerative", job
    call("post", "/api/clusters/v1/clusters", 201, json={"ids": [member], "name": "Odd ones"}, headers=admin_headers)
    call("post", "/api/clusters/v1/clusters", 400, json={"ids": [member], "name": ""}, headers=admin_headers)
    call("post", "/api/clusters/v77/clusters", 404, json={"ids": [member], "name": "x"}, headers=admin_headers)
    call("post", "/api/clusters/v1/clusters", 401, json={"ids": [member], "name": "x"})
    call("post", "/api/clusters/v1/rename", 200, json={"cluster": 0, "name": "Checks"}, headers=admin_headers)
    call("post", "/api/clusters/v1/rename", 404, json={"cluster": 77, "name": "x"}, headers=admin_headers)
    call("post", "/api/clusters/v1/rename", 403, json={"cluster": 0, "name": "x"}, headers=bad_token)
    note = call("post", "/api/comments", 201, json={"kind": "cluster", "subject": "v1", "body": "first try"},
                headers=admin_headers).get_json()
    call("post", "/api/comments", 201, json={"kind": "model", "subject": "pattern/v1", "body": "baseline"},
         headers=admin_headers)
    call("post", "/api/comments", 404, json={"kind": "model", "subject": "pattern/v77", "body": "x"},
         headers=admin_headers)
    call("post", "/api/comments", 401, json={"kind": "cluster", "subject": "v1", "body": "x"})
    call("get", "/api/comments?kind=cluster&subject=v1", 200)
    call("get", "/api/comments?kind=other", 400)
    call("put", f"/api/comments/{note['id']}", 200, json={"body": "k = 4 merges plaids"}, headers=admin_headers)
    call("put", "/api/comments/987654", 404, json={"body": "x"}, headers=admin_headers)
    call("delete", f"/api/comments/{note['id']}", 200, headers=admin_headers)
    call("delete", f"/api/comments/{note['id']}", 404, headers=admin_headers)

    # ratings: each design's colourways rated alike, the rest poorly, through the API
    by_design: dict[str, list[dict[str, Any]]] = {}
    for image in every:
        by_design.setdefault(image["design"], []).append(image)
    for image in every:
        for other in every[:12]:
            if other["id"] != image["id"]:
                call("post", "/api/feedback", 201, json={
                    "query": image["path"], "result": other["path"], "model": "pattern", "version": "v1",
                    "rating": 5 if other["design"] == image["design"] else 1, "rater": "test"})
    call("post", "/api/feedback", 400, json={"query": first["path"], "result": first["path"], "model": "pattern",
                                             "rating": 9})
    call("get", "/api/feedback/summary", 200)

    # training
    call("get", "/api/train/versions", 200)
    call("get", "/api/train/versions?model=color", 400)
    call("post", "/api/train", 401, json={})
    call("post", "/api/train", 403, json={}, headers=bad_token)
    call("post", "/api/train", 400, json={"epochs": 0}, headers=admin_headers)
    started = call("post", "/api/train", 202, json={"epochs": 3, "augment": 0, "min_ratings": 10,
                                                    "activate": "no"}, headers=admin_headers).get_json()
    trained = call.job_done(started["job"])
    assert trained["state"] == "done" and trained["result"]["version"] == "v2", trained
    call("get", "/api/train/versions", 200)
    call("get", "/api/models/compare?a=v1&b=v2", 200)
    call("get", "/api/models/compare?a=v1", 400)
    call("get", "/api/models/compare?a=v1&b=v7", 404)
    call("post", "/api/models", 401, json={"model": "pattern", "version": "v2"})
    call("post", "/api/models", 403, json={"model": "pattern", "version": "v2"}, headers=bad_token)
    call("post", "/api/models", 400, json={"model": "pattern"}, headers=admin_headers)
    call("post", "/api/models", 200, json={"model": "pattern", "version": "v2"}, headers=admin_headers)
    call("get", "/api/models", 200)
    slow = call("post", "/api/train", 202, json={"epochs": 500, "augment": 0, "min_ratings": 10, "activate": "no"},
                headers=admin_headers).get_json()
    call("post", "/api/train", 409, json={"epochs": 3, "min_ratings": 10}, headers=admin_headers)
    call("post", f"/api/jobs/{slow['job']}/cancel", 401)
    call("post", f"/api/jobs/{slow['job']}/cancel", 403, headers=bad_token)
    call("post", f"/api/jobs/{slow['job']}/cancel", 200, headers=admin_headers)
    assert call.job_done(slow["job"])["state"] in ("cancelled", "done")
    call("get", "/api/jobs?kind=train", 200)

    # catalogue folders and change alerts: a private folder with one new file (the demo folder is shared)
    from swatch.catalog.folders import register_folder

    house = tmp_path / "house"
    house.mkdir()
    Image.open(sorted(demo_images.glob("*.jpg"))[0]).rotate(90).save(house / "SS24 - HOUSE - HS1-1.png")
    folder = register_folder(Catalog(settings.db_path), str(house), None, None)
    call("get", "/api/folders", 200)
    call("get", "/api/changes", 200)
    call("post", "/api/ingest", 409, json={}, headers=admin_headers)  # nothing checked yet: nothing pending
    call("post", "/api/changes/check", 401)
    call("post", "/api/changes/check", 403, headers=bad_token)
    call("post", "/api/changes/check", 400, data="[1", content_type="application/json", headers=admin_headers)
    call("post", "/api/changes/check", 415, data="x", content_type="text/plain", headers=admin_headers)
    call("post", "/api/changes/check", 413, data="[" * 3_000_000, content_type="application/json",
         headers=admin_headers)
    assert call("post", "/api/changes/check", 200, headers=admin_headers).get_json()["pending"]
    call("get", f"/api/folders/{folder}/preview?path=SS24%20-%20HOUSE%20-%20HS1-1.png", 200)
    call("get", f"/api/folders/{folder}/preview?path=../x.png", 400)
    call("get", f"/api/folders/{folder}/preview?path=other.png", 404)
    call("post", "/api/ingest", 401, json={"folder": folder})
    call("post", "/api/ingest", 403, json={"folder": folder}, headers=bad_token)
    call("post", "/api/ingest", 400, json={"path": "/etc"}, headers=admin_headers)
    call("post", "/api/ingest", 404, json={"folder": 987654}, headers=admin_headers)
    call("post", "/api/ingest", 415, data="x", content_type="text/plain", headers=admin_headers)
    call("post", "/api/ingest", 413, data="[" * 3_000_000, content_type="application/json", headers=admin_headers)
    ingesting = call("post", "/api/ingest", 202, json={}, headers=admin_headers).get_json()
    call("post", "/api/ingest", 409, json={"folder": folder}, headers=admin_headers)
    assert call.job_done(ingesting["job"])["state"] == "done"
    call("post", f"/api/folders/{folder}/remove", 401)
    call("post", f"/api/folders/{folder}/remove", 403, headers=bad_token)
    call("post", "/api/folders/987654/remove", 404, headers=admin_headers)
    removing = call("post", f"/api/folders/{folder}/remove", 202, headers=admin_headers).get_json()
    assert call.job_done(removing["job"])["state"] == "done"
    call("post", f"/api/folders/{folder}/remove", 409, headers=admin_headers)

    # every documented operation answered its success status, and a documented 4xx where it has one
    for path, method in documented_operations(spec):
        statuses = {s for p, m, s in call.seen if (p, m) == (path, method)}
        documented = set(spec["paths"][path][method]["responses"])
        assert statuses & {s for s in documented if s.startswith("2")}, f"{method} {path}: no success checked"
        errors = {s for s in documented if s.startswith("4")}
        assert not errors or statuses & errors, f"{method} {path}: no error answer checked"
