"""Ratings: POST /api/feedback stores one; GET /api/feedback/summary summarises them per model version."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify
from flask.typing import ResponseReturnValue

from swatch.catalog.feedback import add_rating, summary
from swatch.features.base import MODEL_NAMES
from swatch.web.context import catalog
from swatch.web.params import json_object

bp = Blueprint("feedback", __name__)


@bp.post("/api/feedback")
def post_feedback() -> ResponseReturnValue:
    body = json_object()  # a bad body is a ParamError, a bad value a FeedbackError: both 400 (swatch.web.errors)
    missing = [k for k in ("query", "result", "model", "rating") if k not in body]
    if missing:
        abort(400, description=f"missing field(s): {', '.join(missing)}")
    model = body["model"]
    if model not in MODEL_NAMES:
        abort(400, description=f"unknown model {str(model)[:40]!r}")
    version = body.get("version") or catalog().active_version(model) or "v1"
    if not isinstance(body["query"], str) or not isinstance(body["result"], str) or not isinstance(version, str):
        abort(400, description="query, result and version must be strings")
    if version not in {v["version"] for v in catalog().model_versions(model)}:
        abort(400, description=f"unknown version {version[:40]!r} of model {model!r}")
    rating_id = add_rating(catalog(), body["query"], body["result"], model, version, body["rating"],
                           rater=body.get("rater"))
    return jsonify(id=rating_id, stored=True), 201


@bp.get("/api/feedback/summary")
def feedback_summary() -> ResponseReturnValue:
    return jsonify(versions=summary(catalog()))
