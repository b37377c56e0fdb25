"""The scalar fields a Milvus collection keeps beside each row: live flag, filter keys, fibre shares, clusters."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from swatch.catalog.snapshot import Column, MetadataTable, season_key, text_key
from swatch.search.milvus_expr import design_key

MAX_TEXT = 512  # characters of a stored key (the VARCHAR fields hold 4 bytes a character)

ClusterLabels = Callable[[str], tuple[np.ndarray, np.ndarray]]


@dataclass
class RowFields:
    """Per row of a feature snapshot: what the filters match on, as Milvus stores it."""

    live: np.ndarray  # bool: the image is in the catalogue's live metadata
    season: np.ndarray  # object arrays of keys ("" when empty), as filters.py matches them
    quality: np.ndarray
    design: np.ndarray
    has_comp: np.ndarray  # bool
    fibres: np.ndarray  # object: JSON text of {fibre: share} with every known fibre ({} without composition)
    clusters: np.ndarray  # object: JSON text of {cluster version: effective cluster}
    fibre_names: frozenset[str]

    def entity(self, row: int, vector: np.ndarray) -> dict[str, Any]:
        """The Milvus row of position `row`."""
        return {"row": int(row), "vec": np.asarray(vector, np.float32), "live": bool(self.live[row]),
                "season": str(self.season[row])[:MAX_TEXT], "quality": str(self.quality[row])[:MAX_TEXT],
                "design": str(self.design[row])[:MAX_TEXT], "has_comp": bool(self.has_comp[row]),
                "fibres": json.loads(self.fibres[row]), "clusters": json.loads(self.clusters[row])}

    def digest(self) -> str:
        """A fingerprint of every row's fields (a reused collection is rewritten only when it differs)."""
        h = hashlib.sha1()
        for name in ("live", "has_comp"):
            h.update(np.ascontiguousarray(getattr(self, name), np.bool_).tobytes())
        for name in ("season", "quality", "design", "fibres", "clusters"):
            h.update("\x1f".join(str(v) for v in getattr(self, name)).encode())
        return h.hexdigest()

    def changed(self, other: RowFields) -> np.ndarray:
        """Rows whose fields differ from `other`'s (the ones to upsert)."""
        out = (self.live != other.live) | (self.has_comp != other.has_comp)
        for name in ("season", "quality", "design", "fibres", "clusters"):
            out |= getattr(self, name) != getattr(other, name)
        return np.flatnonzero(out)


def _keys(column: Column, key: Callable[[str], str], pos: np.ndarray) -> np.ndarray:
    keys = np.array([key(v) for v in column.values] + [""], dtype=object)  # code -1 -> ""
    codes = np.where(pos >= 0, column.codes[np.maximum(pos, 0)] if len(column.codes) else -1, -1)
    return keys[codes]


def cluster_column(ids: np.ndarray, labels: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Each row's effective cluster in one cluster version (-1: not assigned)."""
    members, clusters = labels
    if not len(members):
        return np.full(len(ids), -1, np.int64)
    at = np.minimum(np.searchsorted(members, ids), len(members) - 1)
    return np.where(members[at] == ids, clusters[at], -1).astype(np.int64)


def cluster_json(columns: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Per row, the JSON object of its cluster in every version where it has one."""
    out = np.empty(n, dtype=object)
    names = sorted(columns)
    for row in range(n):
        out[row] = json.dumps({v: int(columns[v][row]) for v in names if columns[v][row] >= 0},
                              sort_keys=True)
    return out


def row_fields(ids: np.ndarray, table: MetadataTable, pos: np.ndarray, clusters: dict[str, np.ndarray]) -> RowFields:
    """The fields of every row (`pos`: each row's position in `table`, -1 when not live)."""
    n = len(ids)
    live = pos >= 0
    safe = np.maximum(pos, 0)
    has = np.where(live, table.has_composition[safe] if len(table) else False, False).astype(bool)
    names = sorted(table.fibres)
    shares = {f: table.fibres[f] for f in names}
    fibres = np.empty(n, dtype=object)
    for row in range(n):
        p = int(safe[row])
        fibres[row] = json.dumps({f: round(float(shares[f][p]), 4) for f in names}) if has[row] else "{}"
    return RowFields(live, _keys(table.season, season_key, pos), _keys(table.quality, text_key, pos),
                     _keys(table.design, design_key, pos), has, fibres, cluster_json(clusters, n),
                     frozenset(names))
