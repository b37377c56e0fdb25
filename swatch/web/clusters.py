"""Cluster versions over HTTP: list, start a clustering job, browse, compare, move designs by hand, export CSV."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, request
from flask.typing import ResponseReturnValue

from swatch.clustering.compare import compare_versions
from swatch.clustering.export import export_csv
from swatch.clustering.kmeans import NREDO
from swatch.clustering.moves import move_designs, move_history
from swatch.clustering.versions import (
    ClusterError,
    ClusterRequest,
    list_versions,
    make_cluster_job,
    parse_k,
    resolve,
    version_detail,
)
from swatch.web.auth import admin_required
from swatch.web.context import catalog, jobs, settings

bp = Blueprint("clusters", __name__)

JOB_KIND = "cluster"
MAX_MEMBERS = 10_000


def _int_arg(name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, description=f"{name} must be an integer")
    if not lo <= value <= hi:
        abort(400, description=f"{name} must be from {lo} to {hi}")
    return value


@bp.get("/api/clusters")
def list_clusters() -> ResponseReturnValue:
    """Versions (oldest first) with parameters and figures, also grouped per model."""
    versions = list_versions(catalog(), request.args.get("model") or None)
    by_model: dict[str, list[str]] = {}
    for v in versions:
        by_model.setdefault(v["model"], []).append(v["version"])
    running = [j for j in jobs().list(JOB_KIND) if j["state"] in ("queued", "running")]
    return jsonify(versions=versions, models=by_model, jobs=running)


@bp.post("/api/clusters")
@admin_required
def start_clustering() -> ResponseReturnValue:
    """Start a clustering job: {"model", "version"?, "k": int | "auto", "seed"?, "niter"?, "nredo"?} -> 202 {job}."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description='send a JSON object: {"model": "pattern", "k": 12 | "auto"}')
    unknown = sorted(set(body) - {"model", "version", "k", "seed", "niter", "nredo"})
    if unknown:
        abort(400, description=f"unknown field(s): {', '.join(unknown)}")
    if not isinstance(body.get("model"), str):
        abort(400, description="model is required (color, pattern or color+pattern)")
    try:
        req = ClusterRequest(body["model"], body.get("version"), parse_k(body.get("k", "auto")),
                             body.get("seed", 1234), body.get("niter", 20), body.get("nredo", NREDO))
        req, _ = resolve(settings(), catalog(), req)
    except ClusterError as exc:
        abort(400, description=str(exc))
    busy = [j["id"] for j in jobs().list(JOB_KIND) if j["state"] in ("queued", "running")]
    if busy:
        abort(409, description=f"a clustering job is already running: {busy[0]}")
    params: dict[str, Any] = {"model": req.model, "feature_version": req.feature_version, "k": req.k,
                              "seed": req.seed, "niter": req.niter, "nredo": req.nredo}
    job_id = jobs().start(JOB_KIND, params, make_cluster_job(settings()))
    return jsonify(job=job_id, status=f"/api/jobs/{job_id}", params=params), 202


@bp.get("/api/clusters/compare")
def compare() -> ResponseReturnValue:
    a, b = request.args.get("a", ""), request.args.get("b", "")
    if not a or not b:
        abort(400, description="give two cluster versions: ?a=v1&b=v2")
    try:
        return jsonify(compare_versions(catalog(), a, b))
    except ClusterError as exc:
        abort(404 if "unknown" in str(exc) else 400, description=str(exc))


def _detail(version: str, model: str | None = None) -> ResponseReturnValue:
    cluster = _int_arg("cluster", None, 0, 10**6)
    limit = _int_arg("limit", 200, 0, MAX_MEMBERS)
    try:
        detail = version_detail(catalog(), version, cluster, limit or 0)
    except ClusterError as exc:
        abort(404 if "unknown" in str(exc) else 400, description=str(exc))
    if model is not None and detail["model"] != model:
        abort(404, description=f"cluster version {version} is of model {detail['model']!r}, not {model!r}")
    return jsonify(detail)


@bp.get("/api/clusters/<version>")
def detail(version: str) -> ResponseReturnValue:
    """Clusters of a version with sizes, representatives and members (?cluster=N, ?limit=members per cluster)."""
    return _detail(version)


@bp.get("/api/clusters/<model>/<version>")
def detail_for_model(model: str, version: str) -> ResponseReturnValue:
    return _detail(version, model)


@bp.post("/api/clusters/<version>/move")
@admin_required
def move(version: str) -> ResponseReturnValue:
    """Move designs by hand: {"ids": [id or file name, ...], "to": cluster, "by"?: who}."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "ids" not in body or "to" not in body:
        abort(400, description='send a JSON object: {"ids": [...], "to": cluster}')
    who = body.get("by") or request.headers.get("X-User") or "admin"
    if not isinstance(who, str) or len(who) > 200:
        abort(400, description="'by' must be a short name")
    try:
        return jsonify(move_designs(catalog(), version, body["ids"], body["to"], moved_by=who))
    except ClusterError as exc:
        abort(404 if "unknown cluster version" in str(exc) else 400, description=str(exc))


@bp.get("/api/clusters/<version>/moves")
def moves(version: str) -> ResponseReturnValue:
    try:
        return jsonify(moves=move_history(catalog(), version, _int_arg("limit", 100, 1, 10_000) or 100))
    except ClusterError as exc:
        abort(404, description=str(exc))


@bp.get("/api/clusters/<version>/export.csv")
def export(version: str) -> ResponseReturnValue:
    try:
        body = export_csv(catalog(), version)
    except ClusterError as exc:
        abort(404, description=str(exc))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="clusters-{version}.csv"',
        "X-Content-Type-Options": "nosniff",
    })
