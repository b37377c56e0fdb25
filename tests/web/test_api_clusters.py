"""The clusters API: admin-only jobs and moves, browsing, comparing, CSV export, and searching while a job runs."""

from __future__ import annotations

import csv
import io

from swatch.catalog.db import Catalog
from swatch.jobs import JobRunner
from swatch.testing.synthetic import add_synthetic_version, blobs


def _run_job(client, admin_headers, app, **body) -> dict:
    resp = client.post("/api/clusters", json=body, headers=admin_headers)
    assert resp.status_code == 202, resp.get_json()
    job_id = resp.get_json()["job"]
    runner: JobRunner = app.extensions["swatch.jobs"]
    runner.wait(job_id, timeout=300)
    job = client.get(f"/api/jobs/{job_id}").get_json()
    assert job["state"] == "done", job
    return job


def test_start_job_browse_move_compare_export(client, app, admin_headers, settings):
    job = _run_job(client, admin_headers, app, model="pattern", k=6, seed=4)
    assert job["result"]["version"] == "v1" and job["progress"] == 1.0
    _run_job(client, admin_headers, app, model="color", k=4)

    listing = client.get("/api/clusters").get_json()
    assert listing["models"] == {"pattern": ["v1"], "color": ["v2"]}
    v1 = listing["versions"][0]
    assert v1["k"] == 6 and sum(v1["metrics"]["sizes"]) == 36 and v1["metrics"]["silhouette"] is not None
    assert v1["params"]["seed"] == 4 and "clusters" not in v1["metrics"]
    assert client.get("/api/clusters?model=color").get_json()["models"] == {"color": ["v2"]}

    detail = client.get("/api/clusters/v1").get_json()
    assert detail == client.get("/api/clusters/pattern/v1").get_json()
    assert client.get("/api/clusters/color/v1").status_code == 404
    assert sum(c["size"] for c in detail["clusters"]) == 36
    for c in detail["clusters"]:
        ids = {m["id"] for m in c["members"]}
        assert len(ids) == c["size"] == c["kmeans_size"]
        assert c["representatives"] and {r["id"] for r in c["representatives"]} <= ids
    one = client.get("/api/clusters/v1?cluster=2&limit=1").get_json()["clusters"]
    assert [c["cluster"] for c in one] == [2] and len(one[0]["members"]) == 1

    # a hand move, admin only, recorded with who and when
    source = detail["clusters"][0]
    moving = [m["id"] for m in source["members"][:2]]
    assert client.post("/api/clusters/v1/move", json={"ids": moving, "to": 1}).status_code == 401
    resp = client.post("/api/clusters/v1/move", json={"ids": moving, "to": 1, "by": "ana"}, headers=admin_headers)
    assert resp.status_code == 200 and resp.get_json()["moved"] == moving
    after = {c["cluster"]: c for c in client.get("/api/clusters/v1").get_json()["clusters"]}
    assert after[0]["size"] == source["size"] - 2 and after[1]["kmeans_size"] == detail["clusters"][1]["size"]
    assert {m["id"] for m in after[1]["members"] if m["moved"]} == set(moving)
    if "/find-similar" in {r.rule for r in app.url_map.iter_rules()}:  # search filters by the moved grouping
        query = source["members"][-1]["filename"]
        found = client.post("/find-similar", json={"filename": query, "model": "pattern", "topN": 50,
                                                   "cluster": {"version": "v1", "ids": [1]}})
        assert found.status_code == 200
        assert {r["id"] for r in found.get_json()} == {m["id"] for m in after[1]["members"]} - {
            source["members"][-1]["id"]}
    history = client.get("/api/clusters/v1/moves").get_json()["moves"]
    assert {h["image_id"] for h in history} == set(moving) and all(h["moved_by"] == "ana" for h in history)

    cmp = client.get("/api/clusters/compare?a=v1&b=v2").get_json()
    assert cmp["common"] == 36 and 0 <= cmp["moved"] <= 36 and {"splits", "merges", "matching"} <= set(cmp)
    assert client.get("/api/clusters/compare?a=v1&b=v1").get_json()["moved"] == 0

    resp = client.get("/api/clusters/v1/export.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "clusters-v1.csv" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert rows[0] == ["file_name", "design", "cluster"] and len(rows) == 37
    names = {img.id: img.filename for img in Catalog(settings.db_path).live_images()}
    assert {r[0] for r in rows[1:] if r[2] == "1"} >= {names[i] for i in moving}


def test_bad_requests_get_clear_errors_and_change_nothing(client, admin_headers, settings):
    assert client.post("/api/clusters", json={"model": "pattern", "k": 4}).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert client.post("/api/clusters", json={"model": "pattern", "k": 4}, headers=wrong).status_code == 403
    for body in ({"model": "texture", "k": 4}, {"model": "pattern", "k": 99}, {"model": "pattern", "k": "many"},
                 {"model": "pattern", "k": 1}, {"model": "pattern", "version": "v8"}, {"k": 4},
                 {"model": "pattern", "k": 4, "colour": True}, {"model": "pattern", "niter": "5"}, [1, 2]):
        resp = client.post("/api/clusters", json=body, headers=admin_headers)
        assert resp.status_code == 400 and resp.get_json()["error"], body
    resp = client.post("/api/clusters", data="{oops", content_type="application/json", headers=admin_headers)
    assert resp.status_code == 400
    assert client.get("/api/jobs").get_json()["jobs"] == []
    for url, code in (("/api/clusters/v1", 404), ("/api/clusters/x", 400), ("/api/clusters/pattern/v3", 404),
                      ("/api/clusters/compare?a=v1", 400), ("/api/clusters/compare?a=v1&b=v2", 404),
                      ("/api/clusters/v1/export.csv", 404), ("/api/clusters/v1?limit=x", 400)):
        resp = client.get(url)
        assert resp.status_code == code and resp.get_json()["error"], url
    resp = client.post("/api/clusters/v1/move", json={"ids": [1], "to": 0}, headers=admin_headers)
    assert resp.status_code == 404
    assert Catalog(settings.db_path).connect().execute("SELECT COUNT(*) FROM cluster_versions").fetchone()[0] == 0


def test_bad_moves_are_refused(client, app, admin_headers):
    _run_job(client, admin_headers, app, model="pattern", k=3)
    for body in ({"ids": [1], "to": 3}, {"ids": [], "to": 0}, {"ids": [10**6], "to": 0}, {"ids": "1", "to": 0},
                 {"ids": [1]}, {"ids": [1], "to": "0"}):
        resp = client.post("/api/clusters/v1/move", json=body, headers=admin_headers)
        assert resp.status_code == 400 and resp.get_json()["error"], body
    assert client.get("/api/clusters/v1/moves").get_json()["moves"] == []


def _busy_endpoints(app, client) -> list[str]:
    """What designers do while a job runs: search when the search endpoint exists, else browse and health."""
    rules = {r.rule for r in app.url_map.iter_rules()}
    name = Catalog(app.extensions["swatch.settings"].db_path).live_images()[0].filename
    urls = ["/health", "/api/clusters", "/api/clusters/v1?limit=5"]
    if "/find-similar" in rules:
        urls.append(f"/find-similar?filename={name}&model=pattern&topN=5")
    if "/api/images" in rules:
        urls.append("/api/images?per_page=5")
    for url in urls:  # warm up (indexes, caches) before the job starts
        assert client.get(url).status_code == 200, url
    return urls


def test_requests_keep_answering_while_a_clustering_job_runs(client, app, admin_headers, settings):
    _run_job(client, admin_headers, app, model="pattern", k=3)
    x, _ = blobs(100_000, 96, centres=60, seed=1)
    add_synthetic_version(settings, x)
    urls = _busy_endpoints(app, client)
    resp = client.post("/api/clusters", json={"model": "synthetic", "k": 64, "niter": 40}, headers=admin_headers)
    assert resp.status_code == 202
    job_id = resp.get_json()["job"]
    assert client.post("/api/clusters", json={"model": "pattern", "k": 3}, headers=admin_headers).status_code == 409
    answered_while_running = 0
    progress: list[float] = []
    for _ in range(100_000):  # bounded, in case the job never ends
        job = client.get(f"/api/jobs/{job_id}").get_json()
        if job["state"] not in ("queued", "running"):
            break
        progress.append(job["progress"])
        ok = all(client.get(url).status_code == 200 for url in urls)
        assert ok
        if client.get(f"/api/jobs/{job_id}").get_json()["state"] == "running":
            answered_while_running += 1
    assert job["state"] == "done", job
    assert answered_while_running >= 3, answered_while_running
    assert progress == sorted(progress) and job["result"]["designs"] == 100_000
    assert client.get("/api/clusters").get_json()["models"]["synthetic"] == [job["result"]["version"]]
