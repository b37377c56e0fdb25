"""Which feature versions exist and how each is made: extracted from images, or derived from other versions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from swatch.catalog.db import Catalog
from swatch.features.base import combine_color_pattern
from swatch.features.store import FeatureStore, FeatureVersion

#: models whose v1 is extracted straight from images
BASE_MODELS = ("color", "pattern")
COMBINED = "color+pattern"

#: info["kind"] -> function(store, catalog, info) -> (rows, ids) for derived versions (trained heads register here)
DERIVERS: dict[str, Callable[[FeatureStore, Catalog, dict[str, Any]], tuple[np.ndarray, np.ndarray]]] = {}


def align(a: FeatureVersion, b: FeatureVersion) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of a and b for the ids both hold, in a's order: (ids, rows_a, rows_b)."""
    pos_b = {int(i): k for k, i in enumerate(b.ids)}
    keep = [(k, pos_b[int(i)]) for k, i in enumerate(a.ids) if int(i) in pos_b]
    ka = np.array([k for k, _ in keep], dtype=np.int64)
    kb = np.array([k for _, k in keep], dtype=np.int64)
    return a.ids[ka], np.asarray(a.features[ka]), np.asarray(b.features[kb])


def publish_combined(store: FeatureStore, catalog: Catalog, pattern_version: str, color_version: str = "v1") -> FeatureVersion:
    """color+pattern/<pattern_version> = [color, pattern] / sqrt(2) for every id in both sources."""
    color = store.load("color", color_version)
    pattern = store.load("pattern", pattern_version)
    ids, c_rows, p_rows = align(color, pattern)
    info = {
        "extractor": COMBINED, "kind": "combined",
        "sources": {"color": color_version, "pattern": pattern_version},
        "color_dim": int(c_rows.shape[1]), "pattern_dim": int(p_rows.shape[1]),
        "params": {"default_weight": 0.5},
    }
    fv = store.publish(COMBINED, pattern_version, combine_color_pattern(c_rows, p_rows), ids, info)
    catalog.register_model_version(COMBINED, pattern_version, {"kind": "combined", "sources": info["sources"]})
    return fv


def refresh_derived(store: FeatureStore, catalog: Catalog) -> list[str]:
    """Rebuild derived versions (trained pattern heads, then every color+pattern) after the bases changed."""
    done: list[str] = []
    for entry in catalog.model_versions("pattern"):
        kind = entry["info"].get("kind")
        if kind in DERIVERS:
            rows, ids = DERIVERS[kind](store, catalog, entry["info"])
            info = dict(entry["info"])
            store.publish("pattern", entry["version"], rows, ids, info)
            done.append(f"pattern/{entry['version']}")
    if store.exists("color", "v1"):
        for version in store.versions("pattern"):
            publish_combined(store, catalog, version)
            done.append(f"{COMBINED}/{version}")
    return done
