"""The designer's pages (/, /training) and the files they show: thumbnails, originals and colour palettes."""

from __future__ import annotations

import functools
import logging
import mimetypes
import os
import sqlite3
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from flask import Blueprint, abort, jsonify, render_template, request, send_file
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from swatch.bounds import integer
from swatch.catalog.images import ImageRow
from swatch.catalog.palettes import store_palettes, stored_palette
from swatch.features.color import dominant_palette, thumbnail_palette
from swatch.images import ImageError, open_image
from swatch.search.errors import SearchError
from swatch.search.filters import Filters
from swatch.web.context import catalog, settings
from swatch.web.files import open_below, open_original
from swatch.web.search import engine

bp = Blueprint("pages", __name__)
log = logging.getLogger(__name__)

#: thumbnails are named by content hash, so a browser may keep them for a year
THUMB_MAX_AGE = 365 * 24 * 3600
PALETTE_SIZES = range(2, 9)
#: designs per catalogue page (static/js/designer/catalogue.js uses the same numbers; ?per_page=N overrides)
DEFAULT_PER_PAGE = 60
MAX_PER_PAGE = 200


@bp.get("/")
def index() -> ResponseReturnValue:
    """The main page, with the first catalogue page inside it so its thumbnails load while the scripts do."""
    per_page = request.args.get("per_page", type=int) or DEFAULT_PER_PAGE
    first_page: dict[str, Any] | None = None
    if 1 <= per_page <= MAX_PER_PAGE:
        try:
            first_page = engine().browse(Filters(), "", 1, per_page)
        except SearchError:
            first_page = None  # the page then asks /api/images itself and shows the error there
    return render_template("index.html", first_page=first_page, preload=(first_page or {}).get("images", [])[:12])


@bp.get("/training")
def training() -> ResponseReturnValue:
    from swatch.training import label_free
    from swatch.training.service import TrainParams

    return render_template("training.html", min_ratings=TrainParams().min_ratings,
                           min_designs=label_free.MIN_DESIGNS)


@bp.get("/thumbnails/<path:rel>")
def thumbnail(rel: str) -> ResponseReturnValue:
    """A thumbnail by its relative name; any path trick or symlink is refused (404)."""
    response = _send_thumbnail(rel, THUMB_MAX_AGE)
    response.headers["Cache-Control"] = f"public, max-age={THUMB_MAX_AGE}, immutable"
    return response


def _send(fh: BinaryIO, name: str, max_age: int, etag: str) -> Response:
    """An opened file as a response, with its length and modification time (conditional GETs answered)."""
    st = os.fstat(fh.fileno())
    response = send_file(fh, mimetype=mimetypes.guess_type(name)[0] or "application/octet-stream",
                         max_age=max_age, etag=etag, last_modified=st.st_mtime)
    if response.status_code == 200:
        response.content_length = st.st_size
    return response


def _send_thumbnail(rel: str, max_age: int) -> Response:
    fh = open_below(settings().thumbnails_dir, rel)
    if fh is None:
        abort(404, description="no such thumbnail")
    return _send(fh, rel, max_age, etag=PurePosixPath(rel).stem)


def _live_image(image_id: int) -> ImageRow:
    row = catalog().image(image_id)
    if row is None or row.removed_at is not None:
        abort(404, description=f"unknown image id {image_id}")
    return row


@bp.get("/images/<int:image_id>/file")
def original_file(image_id: int) -> ResponseReturnValue:
    """The original image file, only while it is the catalogued one: below its ingest root through no symlink,
    with the catalogued size and content hash (a file swapped in after ingest is refused)."""
    row = _live_image(image_id)
    fh = open_original(row)
    if fh is None:
        abort(404, description=f"the original file of image {image_id} is missing on disk or changed since ingest")
    return _send(fh, row.filename, 3600, etag=row.sha256)


@bp.get("/images/<int:image_id>/thumbnail")
def thumbnail_by_id(image_id: int) -> ResponseReturnValue:
    """An image's thumbnail by catalogue id (for answers that carry ids but no thumbnail URL)."""
    row = _live_image(image_id)
    if not row.thumbnail:
        abort(404, description=f"image {image_id} has no thumbnail")
    # an id never changes content (a changed file gets a new id), so a day of caching is safe
    return _send_thumbnail(row.thumbnail, 24 * 3600)


@functools.lru_cache(maxsize=8192)
def cached_palette(thumbnails_dir: str, thumbnail: str, k: int, max_pixels: int) -> tuple[dict[str, Any], ...]:
    """Dominant colours of a thumbnail (named by its image's content hash), cached in memory per (thumbnail, k);
    FileNotFoundError (never cached) when it is missing or a symlink."""
    fh = open_below(thumbnails_dir, thumbnail)
    if fh is None:
        raise FileNotFoundError(thumbnail)
    with fh:
        data = fh.read()
    return tuple(thumbnail_palette(data, k, max_pixels, settings().decode_slots))


def _palette_of(row: ImageRow, k: int) -> tuple[dict[str, Any], ...]:
    """Dominant colours of an image: as stored (at ingest, or by an earlier request), else from its thumbnail
    (then stored), else from its original while it is the catalogued file (not stored: another picture)."""
    stored = stored_palette(catalog(), row.sha256, k)
    if stored is not None:
        return tuple(stored)
    if row.thumbnail:
        try:
            palette = cached_palette(str(settings().thumbnails_dir), row.thumbnail, k, settings().max_image_pixels)
        except FileNotFoundError:
            pass
        else:
            try:
                store_palettes(catalog(), [(row.sha256, k, palette)])
            except sqlite3.Error as exc:  # a busy or read-only catalogue: answer anyway, store it next time
                log.warning("palette of image %d not stored: %s", row.id, exc)
            return palette
    fh = open_original(row)
    if fh is None:
        abort(404, description=f"image {row.id} has no thumbnail and its original is missing or changed")
    with fh:
        data = fh.read()
    img = open_image(data, max_pixels=settings().max_image_pixels, draft_side=128,
                     slots=settings().decode_slots)
    return tuple(dominant_palette(img, k=k))


def _palette_size() -> int:
    return integer(request.args.get("k"), "k", low=PALETTE_SIZES.start, high=PALETTE_SIZES.stop - 1, default=5)


@bp.get("/api/images/<int:image_id>/palette")
def image_palette(image_id: int) -> ResponseReturnValue:
    """The image's dominant colours (hex, share, Lab) on its thumbnail, stored at ingest: the 'why it matched'."""
    k = _palette_size()
    row = _live_image(image_id)
    try:
        palette = _palette_of(row, k)
    except ImageError as exc:
        abort(404, description=f"image {image_id} cannot be read: {exc}")
    return jsonify(id=image_id, palette=list(palette))


@bp.post("/api/palette")
def upload_palette() -> ResponseReturnValue:
    """Dominant colours of an uploaded image (the query of an upload search); nothing is stored."""
    k = _palette_size()
    upload = request.files.get("image")
    if upload is None:
        abort(400, description="send the image as a multipart file field named 'image'")
    data = upload.read(settings().max_upload_bytes + 1)
    if len(data) > settings().max_upload_bytes:
        abort(413, description=f"image larger than {settings().max_upload_bytes // (1024 * 1024)} MB")
    try:
        img = open_image(data, max_pixels=settings().max_image_pixels, draft_side=128,
                         slots=settings().decode_slots)
    except ImageError as exc:
        abort(400, description=f"not a usable image: {exc}")
    return jsonify(palette=dominant_palette(img, k=k))
