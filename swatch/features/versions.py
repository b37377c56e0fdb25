"""Which feature versions exist and how each is made: extracted from images, or derived from other versions."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from swatch.catalog.db import Catalog
from swatch.features.base import combine_color_pattern, l2_normalise
from swatch.features.store import FeatureStore, FeatureVersion

#: models whose v1 is extracted straight from images
BASE_MODELS = ("color", "pattern")
COMBINED = "color+pattern"

#: info["kind"] -> transform(info, base_rows) -> rows. A derived version (a trained head, say) maps rows of its
#: info["base_version"] (v1) to its own space; the same function serves catalogue rows and query rows.
TRANSFORMS: dict[str, Callable[[dict[str, Any], np.ndarray], np.ndarray]] = {}
#: modules that fill TRANSFORMS when imported; imported on first use so every caller sees every kind
TRANSFORM_MODULES = ("swatch.training.head",)


def known_transforms() -> dict[str, Callable[[dict[str, Any], np.ndarray], np.ndarray]]:
    """TRANSFORMS, after importing the modules that register into it."""
    for name in TRANSFORM_MODULES:
        importlib.import_module(name)
    return TRANSFORMS


def transform_rows(model: str, info: dict[str, Any], base_rows: np.ndarray) -> np.ndarray:
    """Rows of a version from rows of its base version (identity for extracted versions)."""
    kind = info.get("kind", "pretrained")
    if kind in known_transforms():
        return l2_normalise(TRANSFORMS[kind](info, np.asarray(base_rows, dtype=np.float32)))
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
        if entry["info"].get("kind") in known_transforms() and store.exists("pattern", entry["info"].get("base_version", "v1")):
            publish_derived(store, "pattern", entry["version"], store.load("pattern", entry["version"]).info
                            if store.exists("pattern", entry["version"]) else entry["info"])
            done.append(f"pattern/{entry['version']}")
    if store.exists("color", "v1"):
        for entry in pattern_versions:
            if store.exists("pattern", entry["version"]):
                publish_combined(store, catalog, entry["version"])
                done.append(f"{COMBINED}/{entry['version']}")
    return done
