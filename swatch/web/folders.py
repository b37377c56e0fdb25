"""Catalogue folders and change alerts: list folders, check for changes, preview new files, ingest or remove (admin)."""

from __future__ import annotations

import io
import logging
import threading
from pathlib import PurePosixPath
from typing import Any

from flask import Blueprint, Flask, Response, abort, jsonify, request
from flask.typing import ResponseReturnValue

from swatch.bounds import integer, text
from swatch.catalog.db import Catalog
from swatch.catalog.folders import FolderRow, get_folder, list_folders, live_counts
from swatch.config import Settings
from swatch.images import ImageError, fit_within, open_image
from swatch.watch import check_all
from swatch.web.auth import admin_required
from swatch.web.context import catalog, jobs, settings
from swatch.web.files import open_below
from swatch.web.jobkinds import make_ingest_job, make_remove_folder_job
from swatch.web.params import json_object

bp = Blueprint("folders", __name__)
log = logging.getLogger(__name__)
PREVIEW_MAX_BYTES = 64 * 1024 * 1024  # a file larger than this gets no preview (413)
_BUSY = ("queued", "running")


def _folder_json(f: FolderRow, counts: dict[int, int]) -> dict[str, Any]:
    return {"id": f.id, "name": PurePosixPath(f.root).name or f.root, "images": counts.get(f.id, 0),
            "removed": f.removed_at is not None, "added_at": f.added_at, "ingested_at": f.ingested_at,
            "removed_at": f.removed_at, "checked_at": f.checked_at}


def _image_counts(folders: list[FolderRow]) -> dict[int, int]:
    by_root = live_counts(catalog())
    return {f.id: by_root.get(f.root, 0) for f in folders if f.removed_at is None}


def _changes_json(f: FolderRow) -> dict[str, Any]:
    c = f.changes
    counts = c.get("counts", {"new": 0, "changed": 0, "removed": 0})
    pending = not c.get("missing", False) and (any(counts.values()) or bool(c.get("metadata_changed")))
    return {"folder": f.id, "name": PurePosixPath(f.root).name or f.root, "checked_at": f.checked_at,
            "missing": bool(c.get("missing", False)), "counts": counts,
            "metadata_changed": bool(c.get("metadata_changed", False)), "pending": pending,
            "files": int(c.get("files", 0)), "hashed": int(c.get("hashed", 0)),
            "new": list(c.get("new", [])), "changed": list(c.get("changed", [])),
            "removed": list(c.get("removed", []))}


def _registered(folder_id: int) -> FolderRow:
    folder = get_folder(catalog(), folder_id)
    if folder is None:
        abort(404, description=f"no catalogue folder {folder_id}")
    return folder


def _busy(*kinds: str) -> bool:
    return any(j["state"] in _BUSY for kind in kinds for j in jobs().list(kind, limit=20))


@bp.get("/api/folders")
def folders() -> ResponseReturnValue:
    rows = list_folders(catalog())
    counts = _image_counts(rows)
    return jsonify(folders=[_folder_json(f, counts) for f in rows])


@bp.post("/api/folders/<int:folder_id>/remove")
@admin_required
def remove(folder_id: int) -> ResponseReturnValue:
    """Mark the folder and its designs removed (a job; nothing on disk is touched; ingesting it brings them back)."""
    folder = _registered(folder_id)
    if folder.removed_at is not None:
        abort(409, description="the folder is already removed; ingest it to bring its designs back")
    if _busy("ingest", "remove-folder"):
        abort(409, description="an ingest or folder removal is already running")
    job_id = jobs().start("remove-folder", {"folder": folder.id}, make_remove_folder_job(settings()))
    return jsonify(job=job_id, status_url=f"/api/jobs/{job_id}"), 202


@bp.get("/api/changes")
def changes() -> ResponseReturnValue:
    """The last check of each live folder (counts, a few paths) and whether anything waits to be ingested."""
    reports = [_changes_json(f) for f in list_folders(catalog(), include_removed=False)]
    running = [j for j in jobs().list("ingest", limit=5) if j["state"] in _BUSY]
    return jsonify(folders=reports, pending=any(r["pending"] for r in reports), jobs=running)


@bp.post("/api/changes/check")
@admin_required
def check_now() -> ResponseReturnValue:
    """Check every live folder now (stat each file; hash only the ones whose stat moved)."""
    json_object(required=False)
    check_all(settings(), catalog())
    return changes()


@bp.post("/api/ingest")
@admin_required
def start_ingest() -> ResponseReturnValue:
    """Ingest registered folders as a job: {"folder": id} one folder, {} every live folder with pending changes.
    A path is never taken from the request."""
    body = json_object(required=False)
    unknown = sorted(set(body) - {"folder"})
    if unknown:
        abort(400, description=f"unknown field(s): {', '.join(unknown)}; name a registered folder by its id")
    if "folder" in body:
        ids = [_registered(integer(body["folder"], "folder")).id]
    else:
        ids = [f.id for f in list_folders(catalog(), include_removed=False) if _changes_json(f)["pending"]]
        if not ids:
            abort(409, description="no folder has changes waiting; check again or name a folder")
    if _busy("ingest", "remove-folder"):
        abort(409, description="an ingest or folder removal is already running")
    job_id = jobs().start("ingest", {"folders": ids}, make_ingest_job(settings()))
    return jsonify(job=job_id, status_url=f"/api/jobs/{job_id}", folders=ids), 202


@bp.get("/api/folders/<int:folder_id>/preview")
def preview(folder_id: int) -> ResponseReturnValue:
    """A thumbnail of a new or changed file the last check listed (not yet ingested), made on the fly, bounded;
    only below the registered folder, through no link."""
    folder = _registered(folder_id)
    rel = text(request.args.get("path"), "path", max_len=1000)
    assert rel is not None
    if rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in rel.split("/")):
        abort(400, description="path must be a file the last check listed, relative to its folder")
    listed = set(folder.changes.get("new", [])) | set(folder.changes.get("changed", []))
    if rel not in listed:
        abort(404, description="no such new or changed file in the folder's last check")
    fh = open_below(folder.root, rel)
    if fh is None:
        abort(404, description="the file is gone or not a regular file")
    with fh:
        data = fh.read(PREVIEW_MAX_BYTES + 1)
    if len(data) > PREVIEW_MAX_BYTES:
        abort(413, description="the file is too large for a preview")
    conf = settings()
    try:
        img = open_image(data, max_pixels=conf.max_image_pixels, draft_side=conf.thumb_size,
                         slots=conf.decode_slots)
    except ImageError as exc:
        abort(400, description=f"cannot preview this file: {exc}")
    out = io.BytesIO()
    fit_within(img, conf.thumb_size).save(out, "JPEG", quality=80)
    resp = Response(out.getvalue(), mimetype="image/jpeg")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _watch(conf: Settings, db: Catalog, stop: threading.Event) -> None:
    """Check the folders every SWATCH_WATCH_INTERVAL_S seconds until the process ends."""
    while not stop.wait(conf.watch_interval_s):
        try:
            check_all(conf, db)
        except Exception:  # noqa: BLE001 - a failed check is logged and tried again at the next interval
            log.exception("catalogue change check failed")


def init_app(app: Flask) -> None:
    """The blueprint, and the scheduled check (a daemon thread) unless SWATCH_WATCH_INTERVAL_S is 0."""
    app.register_blueprint(bp)
    conf: Settings = app.extensions["swatch.settings"]
    if conf.watch_interval_s > 0:
        stop = threading.Event()
        app.extensions["swatch.watch_stop"] = stop
        threading.Thread(target=_watch, args=(conf, app.extensions["swatch.catalog"], stop), daemon=True,
                         name="catalogue-watch").start()
