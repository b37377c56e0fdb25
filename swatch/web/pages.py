"""The designer's pages (/, /training) and the files they show: thumbnails, originals and colour palettes."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request, send_from_directory
from flask.typing import ResponseReturnValue

from swatch.catalog.db import ImageRow
from swatch.features.color import dominant_palette
from swatch.filters import Filters
from swatch.images import ImageError, open_image
from swatch.search import SearchError
from swatch.web.context import catalog, settings
from swatch.web.search import engine

bp = Blueprint("pages", __name__)

#: thumbnails are named by content hash, so a browser may keep them for a year
THUMB_MAX_AGE = 365 * 24 * 3600
PALETTE_SIZES = range(2, 9)
#: designs per catalogue page (static/app.js uses the same numbers; ?per_page=N overrides)
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
    return render_template("training.html")


@bp.get("/thumbnails/<path:rel>")
def thumbnail(rel: str) -> ResponseReturnValue:
    """A thumbnail by its relative name; safe_join (inside send_from_directory) refuses any path trick."""
    response = send_from_directory(settings().thumbnails_dir, rel, max_age=THUMB_MAX_AGE)
    response.headers["Cache-Control"] = f"public, max-age={THUMB_MAX_AGE}, immutable"
    return response


def _live_image(image_id: int) -> ImageRow:
    row = catalog().image(image_id)
    if row is None or row.removed_at is not None:
        abort(404, description=f"unknown image id {image_id}")
    return row


@bp.get("/images/<int:image_id>/file")
def original_file(image_id: int) -> ResponseReturnValue:
    """The original image file, served from inside its ingest root only."""
    row = _live_image(image_id)
    if not row.full_path.is_file():
        abort(404, description=f"the original file of image {image_id} is missing on disk")
    return send_from_directory(row.root, row.path, max_age=3600)


@bp.get("/images/<int:image_id>/thumbnail")
def thumbnail_by_id(image_id: int) -> ResponseReturnValue:
    """An image's thumbnail by catalogue id (for answers that carry ids but no thumbnail URL)."""
    row = _live_image(image_id)
    if not row.thumbnail:
        abort(404, description=f"image {image_id} has no thumbnail")
    # an id never changes content (a changed file gets a new id), so a day of caching is safe
    return send_from_directory(settings().thumbnails_dir, row.thumbnail, max_age=24 * 3600)


@functools.lru_cache(maxsize=8192)
def cached_palette(path: str, sha256: str, k: int, max_pixels: int) -> tuple[dict[str, Any], ...]:
    """Dominant colours of an image file, cached in memory per (file, content hash, k)."""
    return tuple(dominant_palette(open_image(Path(path), max_pixels=max_pixels, draft_side=128), k=k))


def _palette_size() -> int:
    raw = request.args.get("k", "5")
    try:
        k = int(raw)
    except ValueError:
        abort(400, description=f"k must be an integer, got {raw!r}")
    if k not in PALETTE_SIZES:
        abort(400, description=f"k must be between {PALETTE_SIZES.start} and {PALETTE_SIZES.stop - 1}")
    return k


@bp.get("/api/images/<int:image_id>/palette")
def image_palette(image_id: int) -> ResponseReturnValue:
    """The image's dominant colours (hex, share, Lab), computed on its thumbnail: the colour 'why it matched'."""
    k = _palette_size()
    row = _live_image(image_id)
    source = settings().thumbnails_dir / row.thumbnail if row.thumbnail else row.full_path
    if not source.is_file():
        source = row.full_path
    try:
        palette = cached_palette(str(source), row.sha256, k, settings().max_image_pixels)
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
        img = open_image(data, max_pixels=settings().max_image_pixels, draft_side=128)
    except ImageError as exc:
        abort(400, description=f"not a usable image: {exc}")
    return jsonify(palette=dominant_palette(img, k=k))
