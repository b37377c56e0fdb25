"""Probes: /livez (the process answers), /readyz (503 with a reason until the indexes are built), /health."""

from __future__ import annotations

import sqlite3

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from swatch.catalog.db import CatalogError
from swatch.web.context import catalog

bp = Blueprint("health", __name__)


def readiness() -> tuple[bool, str]:
    """(ready, why not): not ready while a warm-up builds the search indexes or the catalogue cannot be read."""
    search = current_app.extensions.get("swatch.search")  # set once the search engine exists
    if search is not None and not search.ready:
        return False, "building the search indexes"
    try:
        catalog().count_images()
    except (sqlite3.Error, CatalogError):
        return False, "the catalogue cannot be read"
    return True, ""


@bp.get("/livez")
def livez() -> ResponseReturnValue:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    ready, reason = readiness()
    if not ready:
        return jsonify(ready=False, reason=reason), 503
    return jsonify(ready=True)


@bp.get("/health")
def health() -> ResponseReturnValue:
    """Status, the number of live images and readiness; the same body with 503 while not ready."""
    ready, reason = readiness()
    try:
        images: int | None = catalog().count_images()
    except (sqlite3.Error, CatalogError):
        images = None
    body: dict[str, object] = {"status": "ok" if images is not None else "error", "images": images, "ready": ready}
    if reason:
        body["reason"] = reason
    return jsonify(body), 200 if ready else 503
