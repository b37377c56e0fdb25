"""The folders and change-alert API: listing, checks, previews of new files, ingest and removal as jobs, and every
bad request refused with a 4xx that changes nothing."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import shared_conftest
from PIL import Image

from swatch.catalog.db import Catalog
from swatch.catalog.folders import list_folders, register_folder
from swatch.web import create_app

BAD = {"Authorization": "Bearer not-the-token"}

make_image = shared_conftest().make_image


def wait_done(client: Any, job_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline, seen = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").get_json()
        seen.append(job["message"])
        if job["state"] not in ("queued", "running"):
            job["seen"] = seen
            return job
        time.sleep(0.05)
    pytest.fail(f"job {job_id} did not finish: {seen[-3:]}")


def eventually(check: Any, timeout: float = 10) -> None:
    """The catalogue snapshot is re-read within a second of a write: wait that long for `check()`."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not seen within the snapshot's refresh interval"
        time.sleep(0.1)


def state(settings: Any) -> tuple[list[int], list[tuple[int, str | None]], int]:
    catalog = Catalog(settings.database)
    jobs = catalog.connect().execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    return sorted(catalog.live_ids()), [(f.id, f.removed_at) for f in list_folders(catalog)], int(jobs)


def test_designers_list_the_folders_and_the_changes(client) -> None:
    folders = client.get("/api/folders").get_json()["folders"]
    assert len(folders) == 1 and folders[0]["images"] == 36 and not folders[0]["removed"]
    assert "/" not in folders[0]["name"]  # the folder's name, never the server's path
    changes = client.get("/api/changes").get_json()
    assert changes["pending"] is False and changes["folders"][0]["counts"] == {"new": 0, "changed": 0, "removed": 0}


@pytest.mark.parametrize(("method", "url", "kwargs", "status"), [
    ("post", "/api/ingest", {"json": {"folder": 999}}, 404),
    ("post", "/api/ingest", {"json": {"folder": "../../etc"}}, 400),
    ("post", "/api/ingest", {"json": {"folder": "/etc/passwd"}}, 400),
    ("post", "/api/ingest", {"json": {"path": "/etc"}}, 400),
    ("post", "/api/ingest", {"json": {"folder": 1, "root": "/tmp"}}, 400),
    ("post", "/api/ingest", {"json": {"folder": True}}, 400),
    ("post", "/api/ingest", {"json": ["folder", 1]}, 400),
    ("post", "/api/ingest", {"data": "folder=1", "content_type": "text/plain"}, 415),
    ("post", "/api/ingest", {}, 409),  # nothing waits to be ingested
    ("post", "/api/folders/999/remove", {}, 404),
    ("get", "/api/folders/999/preview?path=a.png", {}, 404),
    ("get", "/api/folders/1/preview?path=../../etc/passwd", {}, 400),
    ("get", "/api/folders/1/preview?path=/etc/passwd", {}, 400),
    ("get", "/api/folders/1/preview?path=sub/./a.png", {}, 400),
    ("get", "/api/folders/1/preview", {}, 400),
    ("get", "/api/folders/1/preview?path=not-listed.png", {}, 404),
])
def test_bad_requests_are_refused_and_change_nothing(client, settings, admin_headers, method, url, kwargs,
                                                     status) -> None:
    before = state(settings)
    resp = client.open(url, method=method.upper(), headers=admin_headers, **kwargs)
    assert resp.status_code == status, resp.get_data(as_text=True)
    if resp.is_json:
        body = resp.get_json()
        assert set(body) == {"error"} and "\n" not in body["error"] and "Traceback" not in body["error"]
        assert str(settings.data_dir) not in body["error"]
    assert state(settings) == before


@pytest.mark.parametrize(("method", "url"), [("post", "/api/ingest"), ("post", "/api/folders/1/remove"),
                                             ("post", "/api/changes/check")])
def test_admin_actions_need_the_token(client, settings, method, url) -> None:
    before = state(settings)
    assert client.open(url, method=method.upper(), json={"folder": 1}).status_code == 401
    assert client.open(url, method=method.upper(), json={"folder": 1}, headers=BAD).status_code == 403
    assert state(settings) == before


def _house(tmp_path: Path, demo_images: Path, n: int) -> Path:
    """A private catalogue folder with n demo designs (the session's demo folder is shared: never changed)."""
    folder = tmp_path / "house"
    folder.mkdir()
    for src in sorted(demo_images.glob("*.jpg"))[:n]:
        shutil.copy(src, folder / src.name)
    return folder


def test_a_change_is_noticed_previewed_applied_as_a_job_and_searchable(settings, admin_headers, tmp_path,
                                                                       demo_images) -> None:
    house = _house(tmp_path, demo_images, 0)
    catalog = Catalog(settings.database)
    folder_id = register_folder(catalog, str(house.resolve()), None, None)
    app = create_app({"TESTING": True, "SETTINGS": settings})
    client = app.test_client()
    new = house / "SS24 - HOUSE TWILL - HT900-1.png"
    Image.open(sorted(demo_images.glob("*.jpg"))[5]).rotate(90).save(new)
    make_image(house / "broken.png").write_bytes(b"not a png")

    checked = client.post("/api/changes/check", headers=admin_headers).get_json()
    mine = next(f for f in checked["folders"] if f["folder"] == folder_id)
    assert mine["counts"] == {"new": 2, "changed": 0, "removed": 0} and checked["pending"]
    assert mine["new"] == ["SS24 - HOUSE TWILL - HT900-1.png", "broken.png"]
    assert client.get("/api/changes").get_json()["folders"] == checked["folders"]

    thumb = client.get(f"/api/folders/{folder_id}/preview", query_string={"path": mine["new"][0]})
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert max(Image.open(__import__("io").BytesIO(thumb.data)).size) <= settings.thumb_size
    assert client.get(f"/api/folders/{folder_id}/preview", query_string={"path": "broken.png"}).status_code == 400
    (house / "link.png").symlink_to(new)  # a link is never followed, even when listed
    client.post("/api/changes/check", headers=admin_headers)
    assert client.get(f"/api/folders/{folder_id}/preview", query_string={"path": "link.png"}).status_code == 404

    started = client.post("/api/ingest", json={}, headers=admin_headers)
    assert started.status_code == 202, started.get_json()
    assert started.get_json()["folders"] == [folder_id]
    job = wait_done(client, started.get_json()["job"])
    assert job["state"] == "done" and job["progress"] == 1.0, job
    assert job["result"]["folders"][0]["added"] == 1 and job["result"]["folders"][0]["failed"] == 1
    assert any("extracting" in m for m in job["seen"]) or job["message"].startswith("house:")
    hits = client.get("/find-similar", query_string={"filename": new.name, "topN": 3, "model": "pattern"})
    assert hits.status_code == 200, hits.get_json()
    eventually(lambda: [i["filename"] for i in client.get("/api/images", query_string={"q": "HT900"})
                        .get_json()["images"]] == [new.name])
    after = next(f for f in client.get("/api/changes").get_json()["folders"] if f["folder"] == folder_id)
    assert after["counts"]["new"] == 1 and after["new"] == ["broken.png"]  # the unreadable file still waits

    # remove the folder: its designs leave the catalogue and the search; the file stays; an ingest brings it back
    removed = client.post(f"/api/folders/{folder_id}/remove", headers=admin_headers)
    assert removed.status_code == 202
    assert wait_done(client, removed.get_json()["job"])["state"] == "done"
    eventually(lambda: client.get("/api/images", query_string={"q": "HT900"}).get_json()["images"] == [])
    assert client.get("/find-similar", query_string={"filename": new.name}).status_code == 404
    assert new.is_file()
    assert client.post(f"/api/folders/{folder_id}/remove", headers=admin_headers).status_code == 409
    again = client.post("/api/ingest", json={"folder": folder_id}, headers=admin_headers)
    assert wait_done(client, again.get_json()["job"])["state"] == "done"
    eventually(lambda: [i["filename"] for i in client.get("/api/images", query_string={"q": "HT900"})
                        .get_json()["images"]] == [new.name])
    assert not next(f for f in client.get("/api/folders").get_json()["folders"] if f["id"] == folder_id)["removed"]


def test_cancelling_an_ingest_job_publishes_nothing(settings, admin_headers, tmp_path, demo_images) -> None:
    import dataclasses

    house = _house(tmp_path, demo_images, 0)
    catalog = Catalog(settings.database)
    folder_id = register_folder(catalog, str(house.resolve()), None, None)
    for k, src in enumerate(sorted(demo_images.glob("*.jpg"))[:12]):
        Image.open(src).rotate(90).save(house / f"AW25 - CANCEL - CX{k:03d}-1.png")
    app = create_app({"TESTING": True, "SETTINGS": dataclasses.replace(settings, batch_size=1)})
    client = app.test_client()
    before = sorted(catalog.live_ids())
    job_id = client.post("/api/ingest", json={"folder": folder_id}, headers=admin_headers).get_json()["job"]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").get_json()
        if "extracting" in job["message"] or job["state"] != "running" and job["state"] != "queued":
            break
        time.sleep(0.02)
    assert "extracting" in job["message"], job
    assert client.post(f"/api/jobs/{job_id}/cancel", headers=admin_headers).status_code == 200
    job = wait_done(client, job_id)
    assert job["state"] == "cancelled", job
    assert sorted(catalog.live_ids()) == before
    time.sleep(1.2)  # past the snapshot's refresh interval: nothing of the cancelled ingest shows
    assert client.get("/api/images", query_string={"q": "CANCEL"}).get_json()["images"] == []
