"""POST /api/compare: 2-4 designs side by side, each pair's exact similarity under each model, metadata differences."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import numpy as np
from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from swatch.bounds import ParamError, integer
from swatch.features.base import MODEL_NAMES
from swatch.search.errors import SearchError
from swatch.web.params import json_object
from swatch.web.search import engine

bp = Blueprint("compare", __name__)

MIN_DESIGNS, MAX_DESIGNS = 2, 4
#: the metadata the page lines up, in its order; a field whose values are not all equal is a difference
COMPARED_FIELDS = ("design", "colourway", "season", "quality", "features", "cluster")


@dataclass
class PairSimilarity:
    """The similarity of two designs under one model version: the inner product of their stored unit rows."""

    a: int
    b: int
    similarity: float | None  # None when either design has no row in this version yet
    score: float | None


@dataclass
class ModelComparison:
    model: str
    version: str | None
    pairs: list[PairSimilarity]
    reason: str | None = None  # why there are no similarities (no version of the model yet)


def compare_ids(body: dict[str, Any]) -> list[int]:
    """The body's `ids`: 2-4 distinct image ids (ParamError otherwise)."""
    raw = body.get("ids")
    if not isinstance(raw, list):
        raise ParamError(f"ids must be a list of {MIN_DESIGNS} to {MAX_DESIGNS} image ids")
    if not MIN_DESIGNS <= len(raw) <= MAX_DESIGNS:
        raise ParamError(f"compare {MIN_DESIGNS} to {MAX_DESIGNS} designs, got {len(raw)}")
    ids = [integer(v, "ids[]") for v in raw]
    if len(set(ids)) != len(ids):
        raise ParamError("ids must be distinct: a design is compared with others, not with itself")
    return ids


def model_comparison(model: str, ids: list[int]) -> ModelComparison:
    """Each pair's exact similarity under the active version of `model`, from the stored rows."""
    try:
        loaded = engine().registry.index(model, None)
    except SearchError as exc:
        if exc.status != 409:
            raise
        return ModelComparison(model, None, [], reason=str(exc))
    rows = {i: loaded.row_of(i) for i in ids}
    vectors = {i: np.asarray(loaded.index.vector(r), dtype=np.float64) for i, r in rows.items() if r is not None}
    pairs = []
    for a, b in combinations(ids, 2):
        if a in vectors and b in vectors:
            score = float(vectors[a] @ vectors[b])
            pairs.append(PairSimilarity(a, b, round(min(max(score, 0.0), 1.0), 6), round(score, 6)))
        else:
            pairs.append(PairSimilarity(a, b, None, None))
    return ModelComparison(model, loaded.version, pairs)


def differences(designs: list[dict[str, Any]]) -> list[str]:
    """The compared metadata fields whose values differ between the designs."""
    return [f for f in COMPARED_FIELDS if any(d.get(f) != designs[0].get(f) for d in designs[1:])]


@bp.post("/api/compare")
def compare() -> ResponseReturnValue:
    """2-4 designs: their metadata, which fields differ, and every pair's similarity under each model."""
    ids = compare_ids(json_object())
    designs = [engine().image(i) for i in ids]  # SearchError 404 for an unknown or removed id
    models = [asdict(model_comparison(m, ids)) for m in MODEL_NAMES]
    return jsonify(designs=designs, differences=differences(designs), models=models)
