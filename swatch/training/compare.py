"""Compare two versions of a model: agreement with designers' ratings and how much their top results differ."""

from __future__ import annotations

from typing import Any

import numpy as np

from swatch.catalog.db import Catalog
from swatch.config import Settings
from swatch.features.store import FeatureStore, FeatureStoreError
from swatch.training import data as tdata
from swatch.training.evaluate import rating_agreement, top_k_overlap
from swatch.training.service import TrainParams


class CompareError(ValueError):
    """Unknown model or version (status 404) or a bad request (400)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def compare_versions(
    settings: Settings, model: str, a: str, b: str, k: int = 10, catalog: Catalog | None = None
) -> dict[str, Any]:
    """For versions a and b of `model`: rating agreement on all ratings and on the held-out queries (the split
    training uses), the share of top-k results they have in common, and each version's kind and active flag."""
    catalog = catalog or Catalog(settings.database)
    store = FeatureStore(settings.features_dir)
    registered = {v["version"]: v for v in catalog.model_versions(model)}
    if not registered:
        raise CompareError(f"unknown model {model!r}", 404)
    loaded = {}
    for version in (a, b):
        if version not in registered:
            raise CompareError(f"unknown version {version!r} of model {model!r}", 404)
        try:
            loaded[version] = store.load(model, version)
        except FeatureStoreError as exc:
            raise CompareError(str(exc), 404) from exc
    ids = np.union1d(loaded[a].ids, loaded[b].ids)
    ratings, _ = tdata.load_ratings(catalog, {int(i): k for k, i in enumerate(ids)}, model)
    _, held = tdata.split_ratings(ratings, TrainParams().holdout)
    out: dict[str, Any] = {"model": model, "k": k, "ratings": len(ratings), "heldout_ratings": len(held)}
    for version in (a, b):
        fv = loaded[version]
        rows = np.asarray(fv.features)
        out[version if a != b else "a"] = {
            "kind": registered[version]["info"].get("kind", "pretrained"),
            "active": registered[version]["active"],
            "all": rating_agreement(rows, fv.ids, ratings),
            "heldout": rating_agreement(rows, fv.ids, held),
        }
    out["top_k_overlap"] = top_k_overlap(np.asarray(loaded[a].features), loaded[a].ids,
                                         np.asarray(loaded[b].features), loaded[b].ids, k=k)
    return out
