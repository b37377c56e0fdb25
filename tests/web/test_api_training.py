"""POST /api/train as an admin background job; versions with loss curves; compare; v2 served beside an unchanged v1."""

from __future__ import annotations

import io
import time

import pytest
from helpers import rate_like_a_designer, tree_digest
from PIL import Image

from swatch.catalog.db import Catalog
from swatch.features.store import FeatureStore

FAST = {"epochs": 5, "augment": 0, "min_ratings": 10}


def wait_for(client, job_id: str, timeout: float = 180.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").get_json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    pytest.fail(f"job {job_id} still {job['state']} after {timeout} s")


def test_training_is_admin_only(client, settings):
    rate_like_a_designer(settings, queries=12)
    assert client.post("/api/train", json=FAST).status_code == 401
    assert client.post("/api/train", json=FAST, headers={"Authorization": "Bearer nope"}).status_code == 403
    assert client.get("/api/jobs?kind=train").get_json()["jobs"] == []


@pytest.mark.parametrize("body", [{"epochs": "many"}, {"epochs": -1}, {"model": "color"}, {"speed": 3},
                                  {"activate": "maybe"}, [1, 2]])
def test_bad_requests_are_400_and_start_nothing(client, settings, admin_headers, body):
    rate_like_a_designer(settings, queries=12)
    resp = client.post("/api/train", json=body, headers=admin_headers)
    assert resp.status_code == 400 and resp.get_json()["error"]
    assert client.get("/api/jobs?kind=train").get_json()["jobs"] == []


def test_too_few_ratings_is_a_400_with_the_reason(client, admin_headers):
    resp = client.post("/api/train", json={}, headers=admin_headers)
    assert resp.status_code == 400 and "too few ratings" in resp.get_json()["error"]


def test_train_job_serves_v2_beside_an_unchanged_v1(client, settings, admin_headers):
    store = FeatureStore(settings.features_dir)
    query = Catalog(settings.database).live_images()[0]
    v1_files = tree_digest(store.version_path("pattern", "v1"))
    v1_results = client.get(f"/find-similar?filename={query.path}&model=pattern&version=v1&topN=10").get_json()
    for body in ({"query": query.path, "result": r["filename"], "model": "pattern", "version": "v1",
                  "rating": 5 if r["design"] == query.design else 1} for r in v1_results):
        assert client.post("/api/feedback", json=body).status_code == 201
    rate_like_a_designer(settings, queries=24)

    resp = client.post("/api/train", json=dict(FAST, activate="no"), headers=admin_headers)
    assert resp.status_code == 202
    job = wait_for(client, resp.get_json()["job"])
    assert job["state"] == "done", job
    assert job["result"]["version"] == "v2" and job["progress"] == 1.0 and len(job["result"]["loss_curve"]) == 5

    results = client.get(f"/find-similar?filename={query.path}&model=pattern&version=v2&topN=10")
    assert results.status_code == 200 and results.headers["X-Model-Version"] == "v2"
    body = results.get_json()
    assert len(body) == 10 and {r["version"] for r in body} == {"v2"}
    assert query.path not in {r["filename"] for r in body}
    v2 = store.load("pattern", "v2")
    assert v2.features.shape[1] == 256
    # v1 stays available, byte-identical, and still the default (v2 was not activated)
    assert tree_digest(store.version_path("pattern", "v1")) == v1_files
    again = client.get(f"/find-similar?filename={query.path}&model=pattern&version=v1&topN=10").get_json()
    assert [(r["id"], r["similarity"]) for r in again] == [(r["id"], r["similarity"]) for r in v1_results]
    default = client.get(f"/find-similar?filename={query.path}&model=pattern&topN=10")
    assert default.headers["X-Model-Version"] == "v1"

    # an upload is embedded through the trained head too
    buf = io.BytesIO()
    Image.open(query.full_path).convert("RGB").save(buf, "PNG")
    up = client.post("/api/search", data={"image": (io.BytesIO(buf.getvalue()), "q.png"), "model": "pattern",
                                          "version": "v2", "topN": "5"}, content_type="multipart/form-data")
    assert up.status_code == 200 and up.get_json()[0]["id"] == query.id

    versions = client.get("/api/train/versions").get_json()["versions"]
    by_version = {v["version"]: v for v in versions}
    assert by_version["v1"]["kind"] == "pretrained" and by_version["v1"]["active"]
    trained = by_version["v2"]
    assert trained["kind"] == "trained-head" and not trained["active"] and trained["epochs"] == 5
    assert len(trained["loss_curve"]) == 5 and trained["data"]["pairs"]["rating_pairs"] > 0
    assert trained["metrics"]["heldout"]["new"]["queries"] > 0

    cmp = client.get("/api/models/compare?model=pattern&a=v1&b=v2")
    assert cmp.status_code == 200
    cmp_body = cmp.get_json()
    assert cmp_body["v1"]["all"]["pairs"] > 0 and 0.0 <= cmp_body["top_k_overlap"]["overlap"] <= 1.0
    assert client.get("/api/models/compare?a=v1&b=v7").status_code == 404
    assert client.get("/api/models/compare?a=v1").status_code == 400
    nul = client.get("/api/models/compare?a=v1%00&b=v2")  # PostgreSQL text cannot hold NUL: refused first
    assert nul.status_code == 400 and "a must be" in nul.get_json()["error"]
    # an admin switching the pattern model to v2 switches color+pattern (built on pattern v2) with it
    resp = client.post("/api/models", json={"model": "pattern", "version": "v2"}, headers=admin_headers)
    assert resp.status_code == 200 and resp.get_json()["also"] == ["color+pattern"]
    catalog = Catalog(settings.database)
    assert catalog.active_version("pattern") == "v2" and catalog.active_version("color+pattern") == "v2"
    assert catalog.active_version("color") == "v1"


def test_cancel_stops_the_job_and_publishes_nothing(client, settings, admin_headers):
    rate_like_a_designer(settings, queries=12)
    resp = client.post("/api/train", json={"epochs": 500, "augment": 0, "min_ratings": 10}, headers=admin_headers)
    assert resp.status_code == 202
    job_id = resp.get_json()["job"]
    assert client.post(f"/api/jobs/{job_id}/cancel", headers=admin_headers).status_code == 200
    job = wait_for(client, job_id)
    assert job["state"] == "cancelled"
    assert FeatureStore(settings.features_dir).versions("pattern") == ["v1"]
    assert [v["version"] for v in Catalog(settings.database).model_versions("pattern")] == ["v1"]
    assert not any((settings.models_dir / "pattern").glob("v*"))


def test_versions_listing_before_any_training(client):
    body = client.get("/api/train/versions").get_json()
    assert [v["version"] for v in body["versions"]] == ["v1"] and body["defaults"]["epochs"] > 0
    assert client.get("/api/train/versions?model=color").status_code == 400
