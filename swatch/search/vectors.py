"""The small interface through which search reaches vectors: one index per snapshot, and its backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from swatch.features.store import FeatureVersion


@dataclass
class Hits:
    """Row positions best first, their exact inner products, and whether the ranking is provably exact."""

    rows: np.ndarray
    scores: np.ndarray
    exact: bool


@dataclass
class FilteredHits:
    """The hits of a search that evaluated the filters itself, and how many rows passed them."""

    hits: Hits
    total: int


class VectorIndex(Protocol):
    """Inner-product search over the rows of one immutable feature snapshot."""

    info: dict[str, Any]

    @property
    def ntotal(self) -> int:
        """How many rows the index holds."""
        ...

    def vector(self, row: int) -> np.ndarray:
        """The exact stored vector of `row` (a query for "more like this one")."""
        ...

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> Hits:
        """The top k rows by inner product with `query`, only among rows where `allowed` is True."""
        ...


class FilteringIndex(VectorIndex, Protocol):
    """An index that evaluates a request's filters inside its own search (`filters_inside` is True); the
    engine gives it the filter spec (swatch/search/filters.py, FilterSpec) instead of a mask of allowed rows."""

    filters_inside: bool

    def search_filtered(self, query: np.ndarray, k: int, spec: Any) -> FilteredHits:
        """The top k rows passing `spec` (live rows, the filters, rows left out) and how many pass it."""
        ...


class VectorBackend(Protocol):
    """Where indexes come from: add (or replace) a snapshot's index, and what was recorded about them."""

    def build(self, fv: FeatureVersion) -> VectorIndex:
        """A searchable index over the rows of feature snapshot `fv`."""
        ...

    def stored_info(self, model: str, version: str) -> dict[str, Any] | None:
        """What the newest index of a model version recorded (None when none was built)."""
        ...

    def prune(self, model: str, version: str, keep: set[str]) -> None:
        """Forget the indexes of snapshots other than `keep` (the snapshot folder names still served)."""
        ...


class PreparingBackend(VectorBackend, Protocol):
    """A backend that can build ahead, when a version is published, what its searches will load.

    Optional: `IndexCache.prepare` calls `prepare` only where a backend has it (else nothing happens at publish
    and the first search builds, as before)."""

    def prepare(self, fv: FeatureVersion) -> dict[str, Any] | None:
        """Build and save what searching `fv` needs (idempotent); what was recorded, or None when nothing is."""
        ...
