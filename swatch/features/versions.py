"""Which feature versions exist and how each is made: extracted from images, or derived from other versions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from swatch.catalog.db import Catalog
from swatch.features.base import COMBINED, combine_color_pattern, l2_normalise
from swatch.features.projection import KIND as PROJECTION_KIND
from swatch.features.projection import projection_transform
from swatch.features.store import FeatureStore, FeatureStoreError, FeatureVersion

#: models whose v1 is extracted straight from images
BASE_MODELS = ("color", "pattern")

Transform = Callable[[dict[str, Any], np.ndarray], np.ndarray]
#: info["kind"] -> transform(info, base_rows) -> rows. A derived version (a trained head, say) maps rows of its
#: info["base_version"] (v1) to its own space; the same function serves catalogue rows and query rows. The modules
#: that define a kind register it here when imported (features never imports them).
_TRANSFORMS: dict[str, Transform] = {}


def register_transform(kind: str, transform: Transform) -> None:
    """Make versions of `kind` derivable: `transform(info, base_rows)` maps base rows into the version's space."""
    _TRANSFORMS[kind] = transform


register_transform(PROJECTION_KIND, projection_transform)  # compact rows (features/compact.py)


def known_transforms() -> dict[str, Transform]:
    """The registered kinds of derived version and their transforms."""
    return dict(_TRANSFORMS)


def _is_derived(info: dict[str, Any]) -> bool:
    """A version whose rows are computed from its base version's (not extracted, not a combination)."""
    return bool(info.get("base_version")) and info.get("kind") not in ("pretrained", "combined")


def transform_rows(model: str, info: dict[str, Any], base_rows: np.ndarray) -> np.ndarray:
    """Rows of a version from rows of its base version (identity for extracted versions).

    FeatureStoreError for a derived version whose kind no imported module has registered (the rows would not
    compare with the version's stored ones).
    """
    kind = info.get("kind", "pretrained")
    transform = _TRANSFORMS.get(kind)
    if transform is not None:
        return l2_normalise(transform(info, np.asarray(base_rows, dtype=np.float32)))
    if _is_derived(info):
        raise FeatureStoreError(f"{model} version of kind {kind!r} is derived from {info.get('base_version')} "
                                f"but no transform is registered for {kind!r}; known: {sorted(_TRANSFORMS)}")
    return np.asarray(base_rows, dtype=np.float32)


def align(a: FeatureVersion, b: FeatureVersion) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of a and b for the ids both hold, in a's order: (ids, rows_a, rows_b)."""
    pos_b = {int(i): k for k, i in enumerate(b.ids)}
    keep = [(k, pos_b[int(i)]) for k, i in enumerate(a.ids) if int(i) in pos_b]
    ka = np.array([k for k, _ in keep], dtype=np.int64)
    kb = np.array([k for _, k in keep], dtype=np.int64)
    return a.ids[ka], np.asarray(a.features[ka]), np.asarray(b.features[kb])


def publish_combined_rows(store: FeatureStore, pattern_version: str, color_version: str = "v1") -> FeatureVersion:
    """Publish color+pattern/<pattern_version> = [color, pattern] / sqrt(2) for every id in both sources, without
    registering it (the training commit registers it with its pattern version, in one transaction)."""
    color = store.load("color", color_version)
    pattern = store.load("pattern", pattern_version)
    ids, c_rows, p_rows = align(color, pattern)
    info = {
        "extractor": COMBINED, "kind": "combined",
        "sources": {"color": color_version, "pattern": pattern_version},
        "color_dim": int(c_rows.shape[1]), "pattern_dim": int(p_rows.shape[1]),
        "params": {"default_weight": 0.5},
    }
    return store.publish(COMBINED, pattern_version, combine_color_pattern(c_rows, p_rows), ids, info)


def combined_entry(fv: FeatureVersion) -> dict[str, Any]:
    """What the catalogue's model_versions records of a color+pattern version."""
    return {"kind": "combined", "sources": fv.info["sources"]}


def publish_combined(
    store: FeatureStore, catalog: Catalog, pattern_version: str, color_version: str = "v1"
) -> FeatureVersion:
    """Publish color+pattern/<pattern_version> and register it."""
    fv = publish_combined_rows(store, pattern_version, color_version)
    catalog.register_model_version(COMBINED, pattern_version, combined_entry(fv))
    return fv


def publish_derived(store: FeatureStore, model: str, version: str, info: dict[str, Any]) -> FeatureVersion:
    """Publish a derived version: transform every row of its base version."""
    base = store.load(model, info.get("base_version", "v1"))
    rows = transform_rows(model, info, np.asarray(base.features))
    return store.publish(model, version, rows, base.ids, info)


def refresh_derived(store: FeatureStore, catalog: Catalog) -> list[str]:
    """Rebuild the registered derived versions (trained pattern heads, then every color+pattern) after the bases
    changed. A version the catalogue does not know (a training that died before registering it) is left alone."""
    done: list[str] = []
    pattern_versions = catalog.model_versions("pattern")
    for entry in pattern_versions:
        derived = entry["info"].get("kind") in _TRANSFORMS or _is_derived(entry["info"])
        if derived and store.exists("pattern", entry["info"].get("base_version", "v1")):
            publish_derived(store, "pattern", entry["version"], store.load("pattern", entry["version"]).info
                            if store.exists("pattern", entry["version"]) else entry["info"])
            done.append(f"pattern/{entry['version']}")
    if store.exists("color", "v1"):
        for entry in pattern_versions:
            if store.exists("pattern", entry["version"]):
                publish_combined(store, catalog, entry["version"])
                done.append(f"{COMBINED}/{entry['version']}")
    return done
