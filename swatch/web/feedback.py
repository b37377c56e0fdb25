"""Ratings: POST /api/feedback stores one; GET /api/feedback/summary summarises them per model version."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue

from swatch.catalog.feedback import FeedbackError, add_rating, summary
from swatch.features.base import MODEL_NAMES
from swatch.web.context import catalog

bp = Blueprint("feedback", __name__)


@bp.post("/api/feedback")
def post_feedback() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="send a JSON object: {query, result, model, version, rating}")
    missing = [k for k in ("query", "result", "model", "rating") if k not in body]
    if missing:
        abort(400, description=f"missing field(s): {', '.join(missing)}")
    model = body["model"]
    if model not in MODEL_NAMES:
        abort(400, description=f"unknown model {model!r}")
    version = body.get("version") or catalog().active_version(model) or "v1"
    if not isinstance(body["query"], str) or not isinstance(body["result"], str) or not isinstance(version, str):
        abort(400, description="query, result and version must be strings")
    if version not in {v["version"] for v in catalog().model_versions(model)}:
        abort(400, description=f"unknown version {version!r} of model {model!r}")
    try:
        rating_id = add_rating(catalog(), body["query"], body["result"], model, version, body["rating"],
                               rater=str(body.get("rater") or "") or None)
    except FeedbackError as exc:
        abort(400, description=str(exc))
    return jsonify(id=rating_id, stored=True), 201


@bp.get("/api/feedback/summary")
def feedback_summary() -> ResponseReturnValue:
    return jsonify(versions=summary(catalog()))
