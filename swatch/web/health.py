"""Health endpoint: readiness and the number of live images."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from swatch.web.context import catalog

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> ResponseReturnValue:
    search = current_app.extensions.get("swatch.search")  # set once the search engine exists
    return jsonify(status="ok", images=catalog().count_images(), ready=bool(search is None or search.ready))
