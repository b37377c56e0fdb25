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
