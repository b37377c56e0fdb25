"""Cluster versions over HTTP: list, start a clustering job, browse, compare, edit (moves, new clusters, names),
comments on cluster and model versions, export CSV."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, request
from flask.typing import ResponseReturnValue

from swatch.bounds import NAME_MAX_LEN, integer, number, optional_integer, text
from swatch.clustering import editing, methods
from swatch.clustering.compare import compare_versions
from swatch.clustering.export import export_csv
from swatch.clustering.kmeans import NREDO
from swatch.clustering.moves import move_designs, move_history
from swatch.clustering.versions import (
    MAX_K,
    ClusterError,
    ClusterRequest,
    check_request,
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
    notes: dict[str, list[dict[str, Any]]] = {}
    for c in editing.comments(catalog(), "cluster"):
        notes.setdefault(c["subject"], []).append(c)
    for v in versions:
        v["comments"] = notes.get(v["version"], [])
    running = [j for j in jobs().list(JOB_KIND) if j["state"] in ("queued", "running")]
    return jsonify(versions=versions, models=by_model, jobs=running)


@bp.get("/api/clusters/suggest-eps")
def suggest_eps() -> ResponseReturnValue:
    """DBSCAN's eps read off the k-distance curve of a model's feature version (?model, ?version, ?min_samples)."""
    model = text(request.args.get("model"), "model", max_len=NAME_MAX_LEN)
    min_samples = integer(request.args.get("min_samples"), "min_samples", low=2, high=1000, default=5)
    try:
        req, fv = resolve(settings(), catalog(), ClusterRequest(str(model), request.args.get("version") or None,
                                                                method="dbscan", min_samples=min_samples))
    except ClusterError as exc:
        abort(404 if "unknown" in str(exc) else 400, description=str(exc))
    out = methods.suggest_eps(fv.features, min_samples, seed=req.seed).to_dict()
    return jsonify(model=req.model, version=req.feature_version, designs=len(fv), **out)


@bp.post("/api/clusters")
@admin_required
def start_clustering() -> ResponseReturnValue:
    """Start a clustering job: {"model", "version"?, "method"?, "k": int | "auto", "seed"?, "niter"?, "nredo"?,
    "eps"?, "min_samples"?, "linkage"?} -> 202 {job}. A DBSCAN making no group or one is refused here (400)."""
    body = json_object()
    unknown = sorted(set(body) - {"model", "version", "k", "seed", "niter", "nredo", "method", "eps", "min_samples",
                                  "linkage"})
    if unknown:
        abort(400, description=f"unknown field(s): {', '.join(unknown)}")
    if not isinstance(body.get("model"), str):
        abort(400, description="model is required (color, pattern or color+pattern)")
    method = body.get("method", "kmeans")
    eps = None if body.get("eps") is None else number(body["eps"], "eps", low=1e-6, high=2.0)
    try:
        k = parse_k(body.get("k", None if method == "dbscan" else "auto"))
        req = ClusterRequest(body["model"], body.get("version"), k, body.get("seed", 1234), body.get("niter", 20),
                             body.get("nredo", NREDO), method, eps, body.get("min_samples", 5),
                             body.get("linkage", "ward"))
        req, fv = resolve(settings(), catalog(), req)
        check_request(req, fv)
    except ClusterError as exc:
        abort(400, description=str(exc))
    busy = [j["id"] for j in jobs().list(JOB_KIND) if j["state"] in ("queued", "running")]
    if busy:
        abort(409, description=f"a clustering job is already running: {busy[0]}")
    params: dict[str, Any] = {"model": req.model, "feature_version": req.feature_version, "k": req.k,
                              "seed": req.seed, "niter": req.niter, "nredo": req.nredo, "method": req.method}
    if req.method == "dbscan":
        params |= {"eps": req.eps, "min_samples": req.min_samples}
    elif req.method == "agglomerative":
        params["linkage"] = req.linkage
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
    cluster = optional_integer(request.args.get("cluster"), "cluster", low=methods.NOT_GROUPED,
                               high=MAX_K + editing.MAX_ADDED)
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


def _who(body: dict[str, Any]) -> str:
    return str(text(body.get("by") or request.headers.get("X-User") or "admin", "'by'", max_len=200))


def _refs(refs: object) -> None:
    """Bound design references: ids within SQLite's integer range, names as text (looked up later)."""
    if isinstance(refs, list):
        for ref in refs:
            if isinstance(ref, int) and not isinstance(ref, bool):
                integer(ref, "ids", low=1)
            elif isinstance(ref, str):
                text(ref, "ids", max_len=NAME_MAX_LEN, printable=False)


@bp.post("/api/clusters/<version>/clusters")
@admin_required
def new_cluster(version: str) -> ResponseReturnValue:
    """A new cluster from a selection: {"ids": [id or file name, ...], "name": "...", "by"?} -> 201."""
    body = json_object()
    if "ids" not in body or "name" not in body:
        abort(400, description='send a JSON object: {"ids": [...], "name": "..."}')
    who = _who(body)
    _refs(body["ids"])
    return jsonify(editing.new_cluster(catalog(), version, body["ids"], body["name"], by=who)), 201


@bp.post("/api/clusters/<version>/rename")
@admin_required
def rename(version: str) -> ResponseReturnValue:
    """Name a cluster of a version: {"cluster": 3, "name": "...", "by"?}."""
    body = json_object()
    if "cluster" not in body or "name" not in body:
        abort(400, description='send a JSON object: {"cluster": 3, "name": "..."}')
    cluster = integer(body["cluster"], "cluster", low=methods.NOT_GROUPED, high=MAX_K + editing.MAX_ADDED)
    who = _who(body)
    return jsonify(editing.rename_cluster(catalog(), version, cluster, body["name"], by=who))


@bp.get("/api/comments")
def list_comments() -> ResponseReturnValue:
    """Comments on versions, oldest first (?kind=cluster|model, ?subject=v3 or pattern/v2)."""
    subject = text(request.args.get("subject"), "subject", required=False, max_len=200)
    return jsonify(comments=editing.comments(catalog(), request.args.get("kind") or None, subject))


@bp.post("/api/comments")
@admin_required
def add_comment() -> ResponseReturnValue:
    """Comment on a version: {"kind": "cluster" | "model", "subject": "v3" | "pattern/v2", "body", "by"?} -> 201."""
    body = json_object()
    who = _who(body)
    return jsonify(editing.add_comment(catalog(), body.get("kind"), body.get("subject"), body.get("body"),
                                       who)), 201


@bp.put("/api/comments/<int:comment_id>")
@admin_required
def edit_comment(comment_id: int) -> ResponseReturnValue:
    """Replace a comment's text: {"body", "by"?}."""
    body = json_object()
    who = _who(body)
    return jsonify(editing.edit_comment(catalog(), comment_id, body.get("body"), who))


@bp.delete("/api/comments/<int:comment_id>")
@admin_required
def delete_comment(comment_id: int) -> ResponseReturnValue:
    editing.delete_comment(catalog(), comment_id)
    return jsonify(deleted=comment_id)


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
