"""Catalogue endpoints: /api/images (pages, text search, filters), /api/images/<id>, /api/facets, /api/models."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify
from flask.typing import ResponseReturnValue

from swatch.search.filters import parse_filters
from swatch.search.params import parse_page
from swatch.web.auth import admin_required
from swatch.web.context import settings
from swatch.web.params import json_object
from swatch.web.search import engine, request_params

bp = Blueprint("catalog_api", __name__)


@bp.get("/api/images")
def list_images() -> ResponseReturnValue:
    params = request_params()
    q = params.get("q") or ""
    if not isinstance(q, str) or len(q) > 200:
        abort(400, description="q must be one text of at most 200 characters")
    page, per_page = parse_page(params, settings())
    return jsonify(engine().browse(parse_filters(params), q, page, per_page))


@bp.get("/api/images/<int:image_id>")
def get_image(image_id: int) -> ResponseReturnValue:
    return jsonify(engine().image(image_id))


@bp.get("/api/facets")
def facets() -> ResponseReturnValue:
    return jsonify(engine().facets())


@bp.get("/api/models")
def models() -> ResponseReturnValue:
    return jsonify(engine().models())


@bp.post("/api/models")
@admin_required
def activate_model() -> ResponseReturnValue:
    body = json_object()
    if not isinstance(body.get("model"), str) or not isinstance(body.get("version"), str):
        abort(400, description='send a JSON object: {"model": "pattern", "version": "v2"}')
    return jsonify(engine().activate(body["model"], body["version"]))
