"""Search and browse filters: parsed from parameters or JSON, evaluated to a mask (cached per snapshot)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from swatch.bounds import MAX_INT64, ParamError, integer, loads_json, number
from swatch.catalog.clusters import cluster_version_exists
from swatch.catalog.db import Catalog
from swatch.catalog.snapshot import MetadataSource, MetadataTable, season_key, text_key
from swatch.search.errors import SearchError

if TYPE_CHECKING:
    from swatch.search.cache import LoadedIndex

FILTER_KEYS = ("season", "quality", "design", "composition", "cluster")
MAX_VALUES = 1000
ALLOWED_CACHE = 32  # filter masks remembered per engine


class FilterError(ParamError):
    """A malformed filter (400), with a message naming the parameter and the expected shape."""


@dataclass(frozen=True)
class FibreRange:
    """Images whose percentage of `fiber` lies in [min, max]; with no min (or 0) and no max: images containing
    the fibre. Images without composition data never match."""

    fiber: str
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class ClusterFilter:
    """Images whose effective cluster in cluster version `version` is one of `ids`."""

    version: str
    ids: tuple[int, ...]


@dataclass(frozen=True)
class Filters:
    """All filters of one request; empty fields do not filter. Values in a field are OR-ed, fields AND-ed."""

    season: tuple[str, ...] = ()
    quality: tuple[str, ...] = ()
    design: tuple[str, ...] = ()
    composition: tuple[FibreRange, ...] = ()
    cluster: ClusterFilter | None = None

    @property
    def empty(self) -> bool:
        return not (self.season or self.quality or self.design or self.composition or self.cluster)

    def describe(self) -> dict[str, Any]:
        """A JSON-able echo of the filters (for logs and responses)."""
        out: dict[str, Any] = {}
        for key in ("season", "quality", "design"):
            if getattr(self, key):
                out[key] = list(getattr(self, key))
        if self.composition:
            out["composition"] = [{k: v for k, v in vars(r).items() if v is not None}
                                  for r in self.composition]
        if self.cluster:
            out["cluster"] = {"version": self.cluster.version, "ids": list(self.cluster.ids)}
        return out

    def mask(
        self, table: MetadataTable, cluster_labels: Callable[[str], tuple[np.ndarray, np.ndarray]]
    ) -> np.ndarray | None:
        """A boolean mask over the table's rows, or None when nothing is filtered."""
        if self.empty:
            return None
        keep = np.ones(len(table), bool)
        for values, column, key in (
            (self.season, table.season, season_key),
            (self.quality, table.quality, text_key),
            (self.design, table.design, lambda v: " ".join(v.split()).upper()),
        ):
            if values:
                codes = [column.lookup[key(v)] for v in values if key(v) in column.lookup]
                keep &= np.isin(column.codes, np.array(codes, np.int32))
        for rng in self.composition:
            pct = table.fibres.get(rng.fiber)
            share = pct if pct is not None else np.zeros(len(table), np.float32)
            keep &= table.has_composition
            if not rng.min and rng.max is None:
                keep &= share > 0
            if rng.min is not None:
                keep &= share >= rng.min - 1e-6
            if rng.max is not None:
                keep &= share <= rng.max + 1e-6
        if self.cluster is not None:
            ids, labels = cluster_labels(self.cluster.version)
            members = ids[np.isin(labels, np.array(self.cluster.ids, np.int64))]
            keep &= np.isin(table.ids, members)
        return keep


@dataclass(frozen=True)
class FilterSpec:
    """A request's filters for an index that evaluates them itself (vectors.FilteringIndex): the filters, the
    metadata table with each index row's position in it (-1: not live), the effective cluster labels of a
    cluster version, and the rows to leave out (the query's own)."""

    filters: Filters
    table: MetadataTable
    positions: np.ndarray
    cluster_labels: Callable[[str], tuple[np.ndarray, np.ndarray]]
    exclude: tuple[int, ...] = ()


def parse_filters(params: Mapping[str, Any]) -> Filters:
    """Filters from request parameters: query-string values (JSON text allowed), form fields or a JSON body.

    `season`, `quality`, `design`: one value or a list (repeat the parameter, or send a JSON array).
    `composition`: `{"fiber": "WV", "min": 50, "max": 80}` or a list of them (all must hold); flat parameters
    `fiber`, `min`, `max` say the same for one fibre.
    `cluster`: `{"version": "v1", "ids": [3, 5]}` (one id as `"id"` also works); flat parameters
    `cluster_version` and `cluster` (one number or a list) say the same.
    """
    composition = params.get("composition")
    if composition in (None, "", []) and params.get("fiber") not in (None, ""):
        composition = {"fiber": params.get("fiber"), "min": params.get("min"), "max": params.get("max")}
    cluster = params.get("cluster")
    if params.get("cluster_version") not in (None, "") and cluster not in (None, ""):
        ids = decode_json_text(cluster)
        cluster = {"version": params.get("cluster_version"), "ids": ids if isinstance(ids, list) else [ids]}
    return Filters(
        season=_values(params.get("season"), "season"),
        quality=_values(params.get("quality"), "quality"),
        design=_values(params.get("design"), "design"),
        composition=_composition(composition),
        cluster=_cluster(cluster),
    )


def decode_json_text(value: Any) -> Any:
    """A query-string value that looks like JSON (an object or array) decoded (depth and numbers bounded);
    other values unchanged."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return loads_json(value, "JSON in a parameter")
        except ParamError as exc:
            raise FilterError(str(exc)) from None
    return value


def _values(raw: Any, name: str) -> tuple[str, ...]:
    raw = decode_json_text(raw)
    if raw is None or raw == "" or raw == []:
        return ()
    items = raw if isinstance(raw, list | tuple) else [raw]
    if len(items) > MAX_VALUES:
        raise FilterError(f"{name}: at most {MAX_VALUES} values")
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise FilterError(f"{name} must be a text value or a list of them")
        text = " ".join(str(item).split())
        if not text:
            raise FilterError(f"{name} has an empty value")
        out.append(text)
    return tuple(dict.fromkeys(out))


def _number(value: Any, what: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return number(value, f"composition {what}", low=0.0, high=100.0)
    except ParamError as exc:
        raise FilterError(str(exc)) from None


def _composition(raw: Any) -> tuple[FibreRange, ...]:
    raw = decode_json_text(raw)
    if raw is None or raw == "" or raw == []:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if not isinstance(item, Mapping):
            raise FilterError('composition must be {"fiber": "WV", "min": 50} (or "max"), or a list of them')
        unknown = set(item) - {"fiber", "fibre", "min", "max"}
        if unknown:
            raise FilterError(f"composition has unknown key(s): {', '.join(sorted(map(str, unknown)))}")
        fiber = item.get("fiber", item.get("fibre"))
        if not isinstance(fiber, str) or not fiber.strip():
            raise FilterError('composition needs "fiber", a fibre code such as "WV"')
        lo, hi = _number(item.get("min"), "min"), _number(item.get("max"), "max")
        if lo is not None and hi is not None and lo > hi:
            raise FilterError("composition min is above max")
        out.append(FibreRange(" ".join(fiber.split()).upper(), lo, hi))
    return tuple(out)


def _cluster(raw: Any) -> ClusterFilter | None:
    raw = decode_json_text(raw)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, Mapping):
        raise FilterError('cluster must be {"version": "v1", "ids": [3, 5]}')
    version = raw.get("version")
    if not isinstance(version, str) or not version.strip():
        raise FilterError('cluster needs "version", e.g. "v1"')
    ids = raw.get("ids", [raw["id"]] if "id" in raw else None)
    if not isinstance(ids, list) or not ids or len(ids) > MAX_VALUES:
        raise FilterError('cluster needs "ids": a non-empty list of cluster numbers')
    parsed = []
    for value in ids:
        try:
            parsed.append(integer(value, "cluster id", low=0, high=MAX_INT64))
        except ParamError:
            raise FilterError(
                f"cluster ids must be integers from 0 to {MAX_INT64}, got {str(value)[:40]!r}") from None
    return ClusterFilter(version.strip(), tuple(sorted(set(parsed))))


def check_cluster_version(catalog: Catalog, filters: Filters) -> None:
    """SearchError (400) when the filters name a cluster version the catalogue does not have."""
    if filters.cluster is not None and not cluster_version_exists(catalog, filters.cluster.version):
        raise SearchError(f"unknown cluster version {filters.cluster.version!r}")


class AllowedRows:
    """The rows of an index that are live and pass a request's filters, remembered for the latest few."""

    def __init__(self, catalog: Catalog, metadata: MetadataSource, size: int = ALLOWED_CACHE):
        self.catalog = catalog
        self.metadata = metadata
        self.size = size
        self._cache: dict[tuple, np.ndarray | None] = {}
        self._lock = threading.Lock()

    def compute(self, loaded: LoadedIndex, table: MetadataTable, filters: Filters) -> np.ndarray | None:
        """Rows of `loaded` that are live and pass `filters` (None: every row)."""
        meta = loaded.positions_in(table.ids, table.generation)
        check_cluster_version(self.catalog, filters)
        mask = filters.mask(table, self.metadata.cluster_labels)
        live = meta >= 0
        if mask is None:
            return None if bool(live.all()) else live
        allowed = np.zeros(len(meta), bool)
        allowed[live] = mask[meta[live]]
        return allowed

    def spec(
        self, loaded: LoadedIndex, table: MetadataTable, filters: Filters, exclude: tuple[int, ...] = ()
    ) -> FilterSpec | None:
        """The filters as a FilterSpec when `loaded`'s index evaluates them itself, else None (use get())."""
        if not getattr(loaded.index, "filters_inside", False):
            return None
        check_cluster_version(self.catalog, filters)
        return FilterSpec(filters, table, loaded.positions_in(table.ids, table.generation),
                          self.metadata.cluster_labels, tuple(exclude))

    def get(self, loaded: LoadedIndex, table: MetadataTable, filters: Filters) -> np.ndarray | None:
        """compute(), remembered per (snapshot, metadata generation, filters); cluster filters are recomputed
        (hand moves change them without touching image metadata)."""
        if filters.cluster is not None:
            return self.compute(loaded, table, filters)
        key = (loaded.model, loaded.version, loaded.folder, table.generation, filters)
        found = self._cache.get(key, False)
        if found is not False:
            return found  # type: ignore[return-value]
        allowed = self.compute(loaded, table, filters)
        if allowed is not None:
            allowed.setflags(write=False)
        with self._lock:
            while len(self._cache) >= self.size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = allowed
        return allowed
