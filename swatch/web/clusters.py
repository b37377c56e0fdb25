"""Cluster versions over HTTP: list, start a clustering job, browse, compare, move designs by hand, export CSV."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, request
from flask.typing import ResponseReturnValue

from swatch.bounds import NAME_MAX_LEN, integer, optional_integer, text
from swatch.clustering.compare import compare_versions
from swatch.clustering.export import export_csv
from swatch.clustering.kmeans import NREDO
from swatch.clustering.moves import move_designs, move_history
from swatch.clustering.versions import (
    MAX_K,
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
from swatch.web.params import json_object

bp = Blueprint("clusters", __name__)

JOB_KIND = "cluster"
MAX_MEMBERS = 10_000


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
    body = json_object()
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
    cluster = optional_integer(request.args.get("cluster"), "cluster", low=0, high=MAX_K)
    limit = integer(request.args.get("limit"), "limit", low=0, high=MAX_MEMBERS, default=200)
    try:
        detail = version_detail(catalog(), version, cluster, limit)
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
    body = json_object()
    if "ids" not in body or "to" not in body:
        abort(400, description='send a JSON object: {"ids": [...], "to": cluster}')
    who = text(body.get("by") or request.headers.get("X-User") or "admin", "'by'", max_len=200)
    if isinstance(body["ids"], list):  # ids within SQLite's integer range; names are looked up as text
        for ref in body["ids"]:
            if isinstance(ref, int):
                integer(ref, "ids", low=1)
            elif isinstance(ref, str):
                text(ref, "ids", max_len=NAME_MAX_LEN, printable=False)
    try:
        return jsonify(move_designs(catalog(), version, body["ids"], body["to"], moved_by=who))
    except ClusterError as exc:
        abort(404 if "unknown cluster version" in str(exc) else 400, description=str(exc))


@bp.get("/api/clusters/<version>/moves")
def moves(version: str) -> ResponseReturnValue:
    try:
        return jsonify(moves=move_history(catalog(), version, integer(request.args.get("limit"), "limit",
                                                                      low=1, high=10_000, default=100)))
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
