"""Job status endpoints: GET /api/jobs, GET /api/jobs/<id>, POST /api/jobs/<id>/cancel (admin)."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue

from swatch.web.auth import admin_required
from swatch.web.context import jobs

bp = Blueprint("jobs", __name__)


@bp.get("/api/jobs")
def list_jobs() -> ResponseReturnValue:
    return jsonify(jobs=jobs().list(request.args.get("kind") or None))


@bp.get("/api/jobs/<job_id>")
def get_job(job_id: str) -> ResponseReturnValue:
    job = jobs().get(job_id)
    if job is None:
        abort(404, description=f"unknown job {job_id!r}")
    return jsonify(job)


@bp.post("/api/jobs/<job_id>/cancel")
@admin_required
def cancel_job(job_id: str) -> ResponseReturnValue:
    if jobs().get(job_id) is None:
        abort(404, description=f"unknown job {job_id!r}")
    if not jobs().cancel(job_id):
        abort(409, description="job is not running")
    return jsonify(cancelling=True)
