"""When a feature model gets compact rows, and publishing them: fitted above N rows, refit on x % growth."""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from swatch import versioning
from swatch.catalog.db import Catalog
from swatch.config import Settings
from swatch.features import projection
from swatch.features.base import COMBINED
from swatch.features.projection import KIND, MAX_DIMS, ProjectionError
from swatch.features.store import FeatureStore
from swatch.features.versions import combined_entry, publish_combined_rows, publish_derived

#: models that may be compacted (colour's 405 values already compare best in full: docs/models.md)
COMPACT_MODELS = ("pattern",)
#: a d-dimensional projection is fitted once the catalogue holds this many rows per kept dimension (docs/models.md)
ROWS_PER_DIM = 2
#: a new projection version is fitted when the catalogue has grown by this share since the latest fit
REFIT_GROWTH = 0.5


def min_rows(dims: int) -> int:
    """The fewest catalogue rows a `dims`-d projection is fitted on."""
    return max(ROWS_PER_DIM * dims, 64)


def projection_versions(catalog: Catalog, model: str) -> list[dict[str, Any]]:
    """The registered projection versions of `model`, oldest first."""
    return [e for e in catalog.model_versions(model) if e["info"].get("kind") == KIND]


@contextmanager
def _commit_lock(folder: Path) -> Iterator[None]:
    """The training commit's flock (models/<model>/.commit.lock): one new version of a model at a time."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".commit.lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _next_version(settings: Settings, store: FeatureStore, catalog: Catalog, model: str) -> str:
    used = [v["version"] for v in catalog.model_versions(model)] + store.versions(model)
    used += versioning.existing_versions(settings.models_dir / model)
    return f"v{1 + max([int(v[1:]) for v in used] + [1])}"


def due(catalog: Catalog, store: FeatureStore, model: str, dims: int | None) -> tuple[int, str] | None:
    """(dims, why) when a projection should be fitted now, else None. `dims` None: only refits an existing one.

    ProjectionError for a dimension out of range or, when `dims` is asked for, a catalogue too small to fit it.
    """
    if model not in COMPACT_MODELS:
        raise ProjectionError(f"compact rows are for {', '.join(COMPACT_MODELS)}, not {model!r}")
    found = projection_versions(catalog, model)
    latest = found[-1] if found else None
    if dims is None and latest is None:
        return None
    want = int(dims if dims is not None else (latest or {})["info"]["dims"])
    if not 1 <= want <= MAX_DIMS:
        raise ProjectionError(f"--compact keeps 1 to {MAX_DIMS} dimensions, not {want}")
    rows = len(store.load(model, "v1")) if store.exists(model, "v1") else 0
    if latest is not None and int(latest["info"]["dims"]) == want:
        fitted = int(latest["info"]["fitted_rows"])
        if rows < fitted * (1 + REFIT_GROWTH):
            return None
        return want, f"catalogue grew from {fitted} to {rows} rows since {model}/{latest['version']}"
    if rows < min_rows(want):
        if dims is None:
            return None
        raise ProjectionError(f"the catalogue has {rows} {model} rows; a {want}-d projection needs at least "
                              f"{min_rows(want)} (ingest more designs or ask for fewer dimensions)")
    return want, f"first {want}-d projection of {rows} rows"


def compact(settings: Settings, catalog: Catalog, store: FeatureStore, dims: int | None = None,
            model: str = "pattern") -> list[str]:
    """Fit and publish a projection version of `model` (and its color+pattern twin) when `due`; the versions made.

    The projection file is published under models/<model>/<vN>/ (versioning.publish), the compact rows as the
    derived feature version <model>/<vN>, and one transaction registers both (the commit point). The new version
    becomes active when the active one is the extracted v1 or an older projection.
    """
    plan = due(catalog, store, model, dims)
    if plan is None:
        return []
    want, why = plan
    folder = settings.models_dir / model
    with _commit_lock(folder):
        version = _next_version(settings, store, catalog, model)
        base = store.load(model, "v1")
        proj = projection.fit(base.features, want)
        info: dict[str, Any] = {"model": model, "kind": KIND, "base_version": "v1", "dims": proj.dims,
                                "variance_kept": proj.variance_kept, "fitted_rows": proj.fitted_rows, "why": why}
        try:
            with versioning.publish(folder, info, version) as tmp:
                sha = projection.save(tmp / projection.FILE, proj)
            spec = {"file": str((folder / version / projection.FILE).resolve()), "sha256": sha,
                    "relative": f"models/{model}/{version}/{projection.FILE}"}
            feature_info = {k: info[k] for k in ("kind", "base_version", "dims", "variance_kept", "fitted_rows")}
            feature_info.update(extractor=model, projection=spec)
            publish_derived(store, model, version, feature_info)
            active = catalog.active_version(model)
            activate = active in (None, "v1") or active in {e["version"] for e in projection_versions(catalog, model)}
            entries = [(model, version, dict(feature_info, why=why), activate)]
            if store.exists("color", "v1"):
                entries.append((COMBINED, version, combined_entry(publish_combined_rows(store, version)), activate))
            catalog.register_model_versions(entries)
        except BaseException:
            for m in (model, COMBINED):  # nothing was registered: take back what was written
                if not any(e["version"] == version for e in catalog.model_versions(m)):
                    store.retract(m, version)
            if not any(e["version"] == version for e in catalog.model_versions(model)):
                shutil.rmtree(folder / version, ignore_errors=True)
            raise
    made = [f"{model}/{version}"] + ([f"{COMBINED}/{version}"] if len(entries) > 1 else [])
    return made
