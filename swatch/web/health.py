"""Health endpoint: readiness and the number of live images."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from swatch.web.context import catalog

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> ResponseReturnValue:
    return jsonify(status="ok", images=catalog().count_images())
