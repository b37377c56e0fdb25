"""Cluster versions: validate a request, run k-means, DBSCAN or agglomerative clustering, save it once."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from swatch import versioning
from swatch.bounds import MIN_INT64, ParamError, integer, number
from swatch.catalog.clusters import (
    ClusterVersionRow,
    added_clusters,
    assignment_table,
    cluster_names,
    cluster_version_exists,
    design_codes,
    insert_version,
    version_names,
    version_row,
    version_rows,
)
from swatch.catalog.db import Catalog, now_iso
from swatch.catalog.images import image_json
from swatch.clustering import kmeans as km
from swatch.clustering import methods
from swatch.config import Settings
from swatch.features.store import (
    MODEL_RE,
    VERSION_RE,
    FeatureStore,
    FeatureStoreError,
    FeatureVersion,
)

MAX_K = 10_000
MAX_NITER = 1_000
MAX_NREDO = 20
REPRESENTATIVES = 5
METHODS = ("kmeans", "dbscan", "agglomerative")
#: distances between unit feature rows are at most 2
MAX_EPS = 2.0
MAX_MIN_SAMPLES = 1_000


class ClusterError(ValueError):
    """A clustering request or a cluster-version lookup that cannot be served (the message says why, in one line)."""


@dataclass(frozen=True)
class ClusterRequest:
    """What to cluster: a model's feature version (None: the active one), how (`method`) and into how many groups.

    kmeans: k clusters (None: choose k by the silhouette). dbscan: `eps` (None: suggested from the k-distance
    curve) and `min_samples`; the number of groups follows. agglomerative: k clusters with `linkage`.
    """

    model: str
    feature_version: str | None = None
    k: int | None = None
    seed: int = 1234
    niter: int = 20
    nredo: int = km.NREDO
    method: str = "kmeans"
    eps: float | None = None
    min_samples: int = 5
    linkage: str = "ward"


def parse_k(value: object) -> int | None:
    """'auto' (or None) -> None; an integer (or its text) -> int; anything else -> ClusterError."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    if isinstance(value, bool):
        raise ClusterError("k must be an integer or 'auto'")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return integer(value, "k", low=MIN_INT64)  # ASCII digits only; resolve() checks the range
        except ParamError:
            pass
    raise ClusterError(f"k must be an integer or 'auto', got {str(value)[:40]!r}")


def _int_field(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ClusterError(f"{name} must be an integer from {lo} to {hi}, got {value!r}")
    return value


def resolve(settings: Settings, catalog: Catalog, req: ClusterRequest) -> tuple[ClusterRequest, FeatureVersion]:
    """Check a request against the catalogue and the feature store; returns it with the feature version filled in."""
    store = FeatureStore(settings.features_dir)
    if not isinstance(req.model, str) or not MODEL_RE.match(req.model) or req.model not in store.models():
        known = ", ".join(store.models()) or "none yet: run extract_features.py"
        raise ClusterError(f"unknown model {req.model!r}; choose from {known}")
    existing = store.versions(req.model)
    version = req.feature_version or catalog.active_version(req.model) or (existing[-1] if existing else None)
    if not isinstance(version, str) or not VERSION_RE.match(version) or not store.exists(req.model, version):
        known = ", ".join(existing) or "none"
        raise ClusterError(f"unknown version {version!r} of model {req.model!r}; choose from {known}")
    seed = _int_field("seed", req.seed, 0, 2**31 - 1)
    niter = _int_field("niter", req.niter, 1, MAX_NITER)
    nredo = _int_field("nredo", req.nredo, 1, MAX_NREDO)
    try:
        fv = store.load(req.model, version)
    except FeatureStoreError as exc:
        raise ClusterError(str(exc)) from exc
    n = len(fv)
    if req.method not in METHODS:
        raise ClusterError(f"unknown method {str(req.method)[:40]!r}; choose from {', '.join(METHODS)}")
    eps = req.eps
    if req.method == "dbscan":
        if req.k is not None:
            raise ClusterError("dbscan finds the number of groups itself: give eps and min_samples, not k")
        if n > methods.MAX_DENSITY_ROWS:
            raise ClusterError(f"{req.model}/{version} has {n} designs: dbscan takes at most "
                               f"{methods.MAX_DENSITY_ROWS} (use kmeans or agglomerative)")
        _int_field("min_samples", req.min_samples, 2, MAX_MIN_SAMPLES)
        if eps is not None:
            try:
                eps = number(eps, "eps", low=1e-6, high=MAX_EPS)
            except ParamError as exc:
                raise ClusterError(str(exc)) from None
    elif req.k is None:
        if req.method == "agglomerative":
            raise ClusterError("agglomerative clustering needs k (an integer from 2)")
        if not km.auto_k_range(n):
            raise ClusterError(f"{req.model}/{version} has {n} designs: too few to choose k automatically")
    else:
        k = _int_field("k", req.k, 2, MAX_K)
        if k > n:
            raise ClusterError(f"k = {k} is more than the {n} designs in {req.model}/{version}")
    if req.method == "agglomerative" and req.linkage not in methods.LINKAGES:
        raise ClusterError(f"linkage must be one of {', '.join(methods.LINKAGES)}, got {str(req.linkage)[:40]!r}")
    return replace(req, feature_version=version, seed=seed, niter=niter, nredo=nredo, eps=eps), fv


def density_groups(req: ClusterRequest, x: np.ndarray) -> tuple[methods.GroupResult, dict[str, Any]]:
    """DBSCAN of a resolved request, checked: ClusterError when it makes no group or only one (nothing is saved).

    Returns the result and how eps was chosen.
    """
    suggestion = methods.suggest_eps(x, req.min_samples, seed=req.seed) if req.eps is None else None
    eps = suggestion.eps if suggestion is not None else float(req.eps or 0.0)
    res = methods.dbscan(x, eps, req.min_samples)
    hint = f"eps = {eps:g}, min_samples = {req.min_samples}"
    if res.k == 0:
        raise ClusterError(f"dbscan with {hint} leaves every design not grouped: raise eps or lower min_samples")
    if res.k == 1:
        raise ClusterError(f"dbscan with {hint} puts {'every' if not res.not_grouped else 'each grouped'} design "
                           "in one group: lower eps or raise min_samples")
    if res.k > MAX_K:
        raise ClusterError(f"dbscan with {hint} makes {res.k} groups (at most {MAX_K}): raise eps or min_samples")
    return res, {"eps_suggested": suggestion.to_dict() if suggestion is not None else None}


def check_request(req: ClusterRequest, fv: FeatureVersion) -> None:
    """What can be refused before a job starts: a DBSCAN whose groups would be none or one (it is computed)."""
    if req.method == "dbscan":
        density_groups(req, fv.features)


def run_clustering(
    settings: Settings, req: ClusterRequest, catalog: Catalog | None = None,
    progress: km.Progress | None = None, bar: bool = False,
) -> dict[str, Any]:
    """Cluster a feature version and save the result as a new cluster version; returns its summary.

    `progress(fraction, message)` is called only before anything is written, so a job cancelled from it
    leaves no trace; older versions are never touched.
    """
    catalog = catalog or Catalog(settings.database)
    req, fv = resolve(settings, catalog, req)
    say = progress or (lambda f, m: None)
    started = time.perf_counter()
    x = fv.features
    auto: dict[str, Any] | None = None
    extra: dict[str, Any] = {}
    k = req.k
    res: km.KmeansResult
    if req.method == "dbscan":
        say(0.05, f"dbscan: {len(fv)} designs (min_samples {req.min_samples})")
        res, extra = density_groups(req, x)
        k = res.k
        base = 0.6
    elif req.method == "agglomerative":
        assert k is not None  # resolve() requires it
        say(0.05, f"agglomerative ({req.linkage}): {len(fv)} designs into {k} clusters")
        res = methods.agglomerative(x, k, req.linkage, seed=req.seed)
        base = 0.6
    else:
        if k is None:
            say(0.02, "choosing k (silhouette over a range)")
            k, auto = km.choose_k(x, km.auto_k_range(len(fv)), seed=req.seed, niter=req.niter, nredo=req.nredo,
                                  progress=lambda f, m: say(0.02 + 0.6 * f, m), bar=bar)
        start = 0.65 if auto else 0.05
        say(start, f"k-means: {len(fv)} designs into {k} clusters")
        res = km.kmeans(x, k, seed=req.seed, niter=req.niter, nredo=req.nredo)
        base = start + 0.2 if auto else 0.6
    say(base, "measuring the silhouette")
    t0 = time.perf_counter()
    grouped = res.labels >= 0
    sil = km.silhouette(x[grouped] if not grouped.all() else x, res.labels[grouped], seed=req.seed)
    sil_seconds = time.perf_counter() - t0
    ids = [int(i) for i in fv.ids]
    nearest = km.nearest_rows(res.labels, res.distances, k, REPRESENTATIVES * 20)
    noise = np.flatnonzero(~grouped)
    noise_near = [noise[np.lexsort((noise, res.distances[noise]))][: REPRESENTATIVES * 20]] if noise.size else []
    design_of = design_codes(catalog, [ids[int(r)] for rows in [*nearest, *noise_near] for r in rows])
    reps = km.representatives([*nearest, *noise_near],
                              {int(r): design_of.get(ids[int(r)]) for rows in [*nearest, *noise_near] for r in rows},
                              REPRESENTATIVES)
    sizes = res.sizes()
    common = {"method": req.method, "k": k, "seed": req.seed,
              "feature": {"count": len(fv), "dim": int(x.shape[1]), "created": fv.info.get("created")},
              "silhouette_sample": min(int(grouped.sum()), km.SILHOUETTE_SAMPLE)}
    if req.method == "kmeans":
        params = {**common, "k_requested": "auto" if req.k is None else req.k, "niter": req.niter,
                  "gpu": res.gpu, **{p: v for p, v in res.params.items() if p not in ("seed", "niter", "nredo")},
                  "nredo": req.nredo}
    else:
        params = {**common, **{p: v for p, v in res.params.items() if p != "seed"}, **extra}
    metrics: dict[str, Any] = {
        "inertia": round(res.inertia, 6), "mean_sq_distance": round(res.inertia / max(1, int(grouped.sum())), 6),
        "silhouette": None if sil is None else round(sil, 6), "sizes": sizes,
        "seconds": {req.method: round(res.seconds, 3), "silhouette": round(sil_seconds, 3),
                    "choose_k": auto["seconds"] if auto else 0.0},
        "clusters": [{"cluster": c, "size": sizes[c], "representatives": [ids[r] for r in reps[c]]}
                     for c in range(k)],
    }
    if noise.size:
        metrics["clusters"].append({"cluster": methods.NOT_GROUPED, "size": int(noise.size),
                                    "representatives": [ids[r] for r in reps[-1]]})
    if req.method == "dbscan":
        metrics["not_grouped"] = int(noise.size)
    if auto:
        metrics["k_auto"] = auto
    say(0.95, "saving the cluster version")
    version = save_version(settings, catalog, req, res, ids, params, metrics)
    total = time.perf_counter() - started
    return {"version": version, "model": req.model, "feature_version": req.feature_version, "k": k,
            "method": req.method, "designs": len(fv), "inertia": metrics["inertia"],
            "silhouette": metrics["silhouette"], "not_grouped": metrics.get("not_grouped"),
            "eps": params.get("eps"), "k_auto": auto, "seconds": round(total, 3)}


def next_version(conn: sqlite3.Connection) -> str:
    """The next global cluster version name (v1, v2, ...), read inside the saving transaction."""
    nums = [int(v[1:]) for v in version_names(conn) if VERSION_RE.match(v)]
    return f"v{max(nums, default=0) + 1}"


def save_version(
    settings: Settings, catalog: Catalog, req: ClusterRequest, res: km.KmeansResult, ids: list[int],
    params: dict[str, Any], metrics: dict[str, Any],
) -> str:
    """Write clusters/<version>/{centroids.npy, info.json} and the catalogue rows as one unit; returns the version.

    The folder is published (swatch.versioning) inside the catalogue transaction, just before it commits; the
    version number is allocated inside that (exclusive) transaction, so concurrent runs never collide.
    """
    root = settings.clusters_dir
    root.mkdir(parents=True, exist_ok=True)
    versioning.heal(root)
    assert req.feature_version is not None  # resolve() filled it in
    target: Path | None = None
    try:
        with catalog.transaction() as tx:
            version = next_version(tx)
            dest = root / version
            if dest.exists():  # left by a run that crashed before its commit: not a version, keep it aside
                os.rename(dest, root / f".orphan-{version}-{uuid.uuid4().hex[:8]}")
            row = ClusterVersionRow(version, req.model, req.feature_version, res.k, params, metrics, now_iso())
            info = {"version": version, "model": req.model, "feature_version": req.feature_version, "k": res.k,
                    "params": params, "metrics": metrics, "created": row.created_at,
                    "files": {"centroids.npy": f"float32 {list(res.centroids.shape)}, row c = centroid of cluster c"},
                    "assignments": "catalog.db, table cluster_assignments (immutable); hand moves: cluster_moves"}
            with versioning.publish(root, info, version) as tmp:
                with open(tmp / "centroids.npy", "wb") as fh:
                    np.save(fh, res.centroids)
                insert_version(tx, row, ids, res.labels.tolist(), res.distances.astype(float).tolist())
            target = root / version
    except BaseException:
        if target is not None and not cluster_version_exists(catalog, target.name):
            shutil.rmtree(target, ignore_errors=True)
        raise
    return version


def list_versions(catalog: Catalog, model: str | None = None) -> list[dict[str, Any]]:
    """Every cluster version (oldest first) with its parameters and figures; per-cluster detail left out."""
    out = []
    for r in version_rows(catalog, model):
        row = r.to_dict()
        row["metrics"].pop("clusters", None)
        out.append(row)
    return sorted(out, key=lambda v: int(v["version"][1:]))


def version_info(catalog: Catalog, version: str) -> dict[str, Any]:
    """One version's row (with per-cluster representatives in metrics); ClusterError when unknown."""
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise ClusterError(f"invalid cluster version {version!r}: versions are v1, v2, ...")
    row = version_row(catalog, version)
    if row is None:
        raise ClusterError(f"unknown cluster version {version!r}")
    return row.to_dict()


def cluster_ids(catalog: Catalog | sqlite3.Connection, info: dict[str, Any]) -> list[int]:
    """Every cluster of a version: NOT_GROUPED (-1) for a density run, 0..k-1, then the clusters added by hand."""
    head = [methods.NOT_GROUPED] if info.get("method") == "dbscan" else []
    return [*head, *range(int(info["k"])), *added_clusters(catalog, info["version"])]


def version_detail(
    catalog: Catalog, version: str, cluster: int | None = None, limit: int = 200
) -> dict[str, Any]:
    """Clusters of a version as people see them (hand moves applied): sizes, representatives, members.

    Members are live catalogue images, nearest the centroid first, at most `limit` per cluster (`size` counts all);
    `moved` marks designs whose cluster differs from the k-means result. Representatives are the stored ones that
    are still members.
    """
    info = version_info(catalog, version)
    known = cluster_ids(catalog, info)
    if cluster is not None and cluster not in known:
        raise ClusterError(f"cluster must be one of {id_range(known)} in {version}")
    table = assignment_table(catalog, version)
    live = set(catalog.live_ids())
    by_cluster: dict[int, list[tuple[float, int, bool]]] = {c: [] for c in known}
    for image_id, kmeans_c, effective_c, dist in table:
        if image_id in live:
            by_cluster.setdefault(effective_c, []).append((dist if effective_c == kmeans_c else float("inf"),
                                                           image_id, effective_c != kmeans_c))
    stored = {c["cluster"]: c for c in info["metrics"].pop("clusters", [])}
    wanted = [cluster] if cluster is not None else sorted(by_cluster)
    shown: dict[int, list[tuple[float, int, bool]]] = {}
    for c in wanted:
        by_cluster[c].sort()
        shown[c] = by_cluster[c][:limit]
    need = {i for c in wanted for _, i, _ in shown[c]}
    need |= {i for c in wanted for i in stored.get(c, {}).get("representatives", [])}
    images = catalog.images_by_ids(sorted(need))
    clusters = []
    names = cluster_names(catalog, version)
    for c in wanted:
        member_ids = {i for _, i, _ in by_cluster[c]}
        reps = [image_json(images[i], thumbnail=False) for i in stored.get(c, {}).get("representatives", [])
                if i in member_ids and i in images]
        members = [{**image_json(images[i], thumbnail=False), "moved": moved}
                   for _, i, moved in shown[c] if i in images]
        named = names.get(c)
        clusters.append({"cluster": c, "size": len(by_cluster[c]), "kmeans_size": stored.get(c, {}).get("size"),
                         "name": named.name if named else ("not grouped" if c == methods.NOT_GROUPED else None),
                         "not_grouped": c == methods.NOT_GROUPED, "added": bool(named and named.added),
                         "representatives": reps, "members": members})
    info["removed"] = sum(1 for row in table if row[0] not in live)
    info["clusters"] = clusters
    return info


def id_range(ids: list[int]) -> str:
    """"-1, 0 to 11, 12": a version's cluster ids (see cluster_ids) for a message."""
    plain = [c for c in ids if c >= 0]
    k = next((i for i, c in enumerate(plain) if c != i), len(plain))
    parts = ["-1"] if methods.NOT_GROUPED in ids else []
    parts += [f"0 to {k - 1}"] if k else []
    return ", ".join(parts + [str(c) for c in plain[k:]])


def make_cluster_job(settings: Settings) -> Callable[[Any, dict[str, Any]], dict[str, Any]]:
    """A JobRunner function: params {model, feature_version, k, seed, niter, nredo} -> the new version's summary."""

    def job(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        req = ClusterRequest(**{f: params[f] for f in asdict(ClusterRequest("x")) if f in params})
        return run_clustering(settings, req, ctx.catalog, progress=ctx.progress)

    return job
