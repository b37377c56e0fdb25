"""Training endpoints: POST /api/train (admin) starts a job; versions with loss curves; compare two versions."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue

from swatch.bounds import text
from swatch.training.service import TrainingError, TrainParams, list_versions, prepare
from swatch.web.auth import admin_required
from swatch.web.context import catalog, jobs, settings
from swatch.web.jobkinds import make_train_job

bp = Blueprint("training", __name__)


@bp.post("/api/train")
@admin_required
def start_training() -> ResponseReturnValue:
    body = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        abort(400, description="send a JSON object of training parameters, e.g. {\"epochs\": 30}")
    try:
        params = TrainParams.from_mapping(body)
        prepare(settings(), params, catalog())  # fail now, with the reason, rather than in the job
    except TrainingError as exc:
        abort(400, description=str(exc))
    if any(j["state"] in ("queued", "running") for j in jobs().list("train", limit=20)):
        abort(409, description="a training job is already running")
    job_id = jobs().start("train", params.to_dict(), make_train_job(settings()))
    return jsonify(job=job_id, status_url=f"/api/jobs/{job_id}", params=params.to_dict()), 202


@bp.get("/api/train/versions")
def training_versions() -> ResponseReturnValue:
    model = request.args.get("model", "pattern")
    if model != "pattern":
        abort(400, description="only the pattern model is trained")
    return jsonify(model=model, versions=list_versions(settings(), model, catalog()),
                   defaults=TrainParams().to_dict())


@bp.get("/api/models/compare")
def compare() -> ResponseReturnValue:
    from swatch.training.compare import CompareError, compare_versions

    model = request.args.get("model", "pattern")
    a, b = request.args.get("a"), request.args.get("b")
    if not a or not b:
        abort(400, description="give two versions: ?a=v1&b=v2")
    for name, value in (("model", model), ("a", a), ("b", b)):  # printable: no NUL reaches PostgreSQL
        text(value, name, max_len=100)
    try:
        return jsonify(compare_versions(settings(), model, a, b, catalog=catalog()))
    except CompareError as exc:
        abort(exc.status, description=str(exc))
