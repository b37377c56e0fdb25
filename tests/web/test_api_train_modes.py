"""POST /api/train's mode: ratings or catalogue (label-free); bad modes and too small a catalogue are 400s."""

from __future__ import annotations

import shutil
import time

import pytest

from swatch.config import Settings
from swatch.features.store import FeatureStore


def _finished(client, job_id: str, timeout: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").get_json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    pytest.fail(f"job {job_id} still running after {timeout} s")


@pytest.mark.parametrize("mode", ["guess", "", "Catalogue", "labels", "ratings,catalogue"])
def test_an_unknown_mode_is_a_400_naming_the_allowed_ones(client, admin_headers, mode) -> None:
    resp = client.post("/api/train", json={"mode": mode, "epochs": 2}, headers=admin_headers)
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "mode must be one of ratings, catalogue"
    assert client.get("/api/jobs?kind=train").get_json()["jobs"] == []


@pytest.mark.parametrize("mode", [3, None, ["catalogue"], {"catalogue": True}, True])
def test_a_mode_that_is_not_text_is_a_400(client, admin_headers, mode) -> None:
    resp = client.post("/api/train", json={"mode": mode}, headers=admin_headers)
    assert resp.status_code == 400 and resp.get_json()["error"] == "mode must be of type str"
    assert client.get("/api/jobs?kind=train").get_json()["jobs"] == []


def test_the_mode_is_admin_only_like_every_training_run(client) -> None:
    assert client.post("/api/train", json={"mode": "catalogue"}).status_code == 401
    assert client.get("/api/jobs?kind=train").get_json()["jobs"] == []


def test_a_label_free_run_needs_no_rating_and_records_its_figures(client, settings, admin_headers) -> None:
    assert client.post("/api/train", json={"epochs": 2}, headers=admin_headers).status_code == 400  # no rating
    resp = client.post("/api/train", json={"mode": "catalogue", "epochs": 2, "activate": "no"}, headers=admin_headers)
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["params"]["mode"] == "catalogue"
    job = _finished(client, resp.get_json()["job"])
    assert job["state"] == "done", job
    versions = client.get("/api/train/versions").get_json()["versions"]
    new = next(v for v in versions if v["version"] == job["result"]["version"])
    assert new["params"]["mode"] == "catalogue" and not new["active"]
    assert new["data"]["usable_train"] == 0 and new["data"]["augmented"] > 0
    assert new["metrics"]["views"]["new"]["views"] > 0 and "v1" in new["metrics"]["views"]
    assert new["decision"] == {"activate": "no", "activated": False, "reason": "activation not requested"}
    assert new["seconds"]["train"] >= 0 and new["seconds"]["total"] >= new["seconds"]["train"]
    assert FeatureStore(settings.features_dir).versions("pattern") == ["v1", new["version"]]


def test_a_label_free_run_on_five_designs_is_a_400_with_the_reason(tmp_path, demo_images) -> None:
    from swatch.ingest import ingest
    from swatch.web import create_app

    few = tmp_path / "few"
    few.mkdir()
    for path in sorted(demo_images.rglob("*.jpg"))[:5]:
        shutil.copy2(path, few / path.name)
    settings = Settings.from_env(data_dir=tmp_path / "data", admin_token="test-admin-token")
    ingest(few, settings, models=["pattern"], progress=False)
    client = create_app({"TESTING": True, "SETTINGS": settings}).test_client()
    headers = {"Authorization": "Bearer test-admin-token"}
    resp = client.post("/api/train", json={"mode": "catalogue"}, headers=headers)
    assert resp.status_code == 400
    assert resp.get_json()["error"].startswith("a label-free run needs at least ")
    assert "the catalogue has 5" in resp.get_json()["error"]
    assert client.get("/api/jobs?kind=train").get_json()["jobs"] == []
    assert FeatureStore(settings.features_dir).versions("pattern") == ["v1"]
