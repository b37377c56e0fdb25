"""The clusters API: admin-only jobs and moves, browsing, comparing, CSV export, and searching while a job runs."""

from __future__ import annotations

import csv
import io

import numpy as np

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
    names = {img.id: img.filename for img in Catalog(settings.database).live_images()}
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
    assert Catalog(settings.database).connect().execute("SELECT COUNT(*) FROM cluster_versions").fetchone()[0] == 0


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
    name = Catalog(app.extensions["swatch.settings"].database).live_images()[0].filename
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


def _blobs_and_outliers(settings) -> list[int]:
    x, _ = blobs(300, 32, centres=4, spread=0.3, seed=8)
    far = np.random.default_rng(2).standard_normal((10, 32)).astype(np.float32)
    return add_synthetic_version(settings, np.vstack([x, far]))


def test_dbscan_and_agglomerative_jobs_with_a_suggested_eps(client, app, admin_headers, settings):
    ids = _blobs_and_outliers(settings)
    suggested = client.get("/api/clusters/suggest-eps?model=synthetic&min_samples=5").get_json()
    assert suggested["version"] == "v1" and suggested["designs"] == 310 and 0.2 < suggested["eps"] < 0.8
    job = _run_job(client, admin_headers, app, model="synthetic", method="dbscan", eps=suggested["eps"],
                   min_samples=5)
    assert job["params"]["method"] == "dbscan" and job["result"]["k"] == 4 and job["result"]["not_grouped"] >= 10
    detail = client.get(f"/api/clusters/{job['result']['version']}?cluster=-1&limit=50").get_json()
    [lone] = detail["clusters"]
    assert detail["method"] == "dbscan" and lone["not_grouped"] and lone["name"] == "not grouped"
    assert {m["id"] for m in lone["members"]} >= set(ids[-10:])
    job = _run_job(client, admin_headers, app, model="synthetic", method="agglomerative", k=4, linkage="complete")
    version = job["result"]["version"]
    assert client.get(f"/api/clusters/{version}").get_json()["params"]["linkage"] == "complete"
    cmp = client.get(f"/api/clusters/compare?a=v1&b={version}").get_json()
    assert cmp["a"]["method"] == "dbscan" and cmp["b"]["method"] == "agglomerative" and cmp["nmi"] > 0.8


def test_bad_method_parameters_are_4xx_and_publish_nothing(client, admin_headers, settings):
    _blobs_and_outliers(settings)
    for body, words in (({"method": "dbscan", "eps": 0.001}, "every design not grouped"),
                        ({"method": "dbscan", "eps": 1.99}, "in one group"),
                        ({"method": "dbscan", "eps": 0}, "eps must be"), ({"method": "dbscan", "eps": "x"}, "eps"),
                        ({"method": "dbscan", "min_samples": 1}, "min_samples"),
                        ({"method": "dbscan", "k": 4}, "not k"), ({"method": "agglomerative"}, "needs k"),
                        ({"method": "agglomerative", "k": 3, "linkage": "single"}, "linkage"),
                        ({"method": "optics"}, "unknown method")):
        resp = client.post("/api/clusters", json={"model": "synthetic", **body}, headers=admin_headers)
        assert resp.status_code == 400 and words in resp.get_json()["error"], (body, resp.get_json())
        assert "\n" not in resp.get_json()["error"] and "Traceback" not in resp.get_data(as_text=True)
    assert client.get("/api/clusters/suggest-eps?model=synthetic&min_samples=0").status_code == 400
    assert client.get("/api/clusters/suggest-eps?model=nope").status_code == 404
    assert client.get("/api/jobs").get_json()["jobs"] == []
    assert client.get("/api/clusters").get_json()["versions"] == []
    assert not settings.clusters_dir.exists() or not any(settings.clusters_dir.iterdir())


def test_new_cluster_rename_and_comments_need_the_admin_token(client, app, admin_headers):
    _run_job(client, admin_headers, app, model="pattern", k=3, seed=2)
    members = client.get("/api/clusters/v1?cluster=0").get_json()["clusters"][0]["members"]
    picked = [m["id"] for m in members[:2]]
    wrong = {"Authorization": "Bearer nope"}
    writes = [("post", "/api/clusters/v1/clusters", {"ids": picked, "name": "Odd ones"}),
              ("post", "/api/clusters/v1/rename", {"cluster": 1, "name": "Checks"}),
              ("post", "/api/comments", {"kind": "cluster", "subject": "v1", "body": "k too small"})]
    for method, url, body in writes:
        assert client.open(url, method=method.upper(), json=body).status_code == 401
        assert client.open(url, method=method.upper(), json=body, headers=wrong).status_code == 403
    assert client.get("/api/clusters/v1").get_json()["clusters"][1]["name"] is None
    made = client.post("/api/clusters/v1/clusters", json={"ids": picked, "name": "Odd ones", "by": "ana"},
                       headers=admin_headers)
    assert made.status_code == 201 and made.get_json()["cluster"] == 3 and made.get_json()["moved"] == picked
    resp = client.post("/api/clusters/v1/rename", json={"cluster": 1, "name": "Checks"}, headers=admin_headers)
    assert resp.status_code == 200 and resp.get_json()["name"] == "Checks"
    clusters = {c["cluster"]: c for c in client.get("/api/clusters/v1").get_json()["clusters"]}
    assert clusters[1]["name"] == "Checks" and clusters[3]["name"] == "Odd ones" and clusters[3]["added"]
    assert {m["id"] for m in clusters[3]["members"]} == set(picked)
    for body, code in (({"cluster": 9, "name": "x"}, 404), ({"cluster": 1, "name": ""}, 400),
                       ({"cluster": 1, "name": "x" * 81}, 400), ({"cluster": "one", "name": "x"}, 400)):
        assert client.post("/api/clusters/v1/rename", json=body, headers=admin_headers).status_code == code, body
    assert client.post("/api/clusters/v1/clusters", json={"ids": [10**6], "name": "x"},
                       headers=admin_headers).status_code == 400
    assert len(client.get("/api/clusters/v1").get_json()["clusters"]) == 4  # the refused one left nothing

    note = client.post("/api/comments", json={"kind": "cluster", "subject": "v1", "body": "k too small"},
                       headers=admin_headers)
    assert note.status_code == 201
    note_id = note.get_json()["id"]
    assert client.post("/api/comments", json={"kind": "model", "subject": "pattern/v1", "body": "baseline"},
                       headers=admin_headers).status_code == 201
    for body, code in (({"kind": "model", "subject": "pattern/v9", "body": "x"}, 404),
                       ({"kind": "cluster", "subject": "v9", "body": "x"}, 404),
                       ({"kind": "feature", "subject": "v1", "body": "x"}, 400),
                       ({"kind": "cluster", "subject": "v1", "body": ""}, 400)):
        assert client.post("/api/comments", json=body, headers=admin_headers).status_code == code, body
    [listed] = client.get("/api/clusters").get_json()["versions"]
    assert [c["body"] for c in listed["comments"]] == ["k too small"]
    assert client.put(f"/api/comments/{note_id}", json={"body": "k = 3 merges plaids"}).status_code == 401
    edited = client.put(f"/api/comments/{note_id}", json={"body": "k = 3 merges plaids", "by": "bo"},
                        headers=admin_headers).get_json()
    assert edited["body"] == "k = 3 merges plaids" and edited["author"] == "bo"
    models = client.get("/api/comments?kind=model").get_json()["comments"]
    assert [(c["subject"], c["body"]) for c in models] == [("pattern/v1", "baseline")]
    assert client.delete(f"/api/comments/{note_id}").status_code == 401
    assert client.delete(f"/api/comments/{note_id}", headers=admin_headers).status_code == 200
    assert client.get("/api/comments?kind=cluster").get_json()["comments"] == []
    assert client.delete(f"/api/comments/{note_id}", headers=admin_headers).status_code == 404
