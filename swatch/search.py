"""Core queries: similar designs (catalogue image or upload), catalogue pages, facets, model versions."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from swatch.catalog.clusters import cluster_version_exists
from swatch.catalog.db import Catalog
from swatch.config import Settings
from swatch.features.base import MODEL_NAMES
from swatch.features.store import VERSION_RE, FeatureStoreError
from swatch.features.versions import COMBINED
from swatch.filters import FilterError, Filters, parse_filters
from swatch.images import ImageError, open_image
from swatch.index.build import read_info
from swatch.index.cache import IndexCache, LoadedIndex
from swatch.index.embed import EmbedError, QueryEmbedder
from swatch.index.metadata import MetadataSource, MetadataTable
from swatch.metrics import count_search
from swatch.web.params import ParamError, integer, number

log = logging.getLogger(__name__)

DEFAULT_MODEL = "pattern"
METRICS = ("cosine", "euclidean")
DEPTH_FACTOR = 10  # page * topN may reach max_top_n * DEPTH_FACTOR
ALLOWED_CACHE = 32  # filter masks remembered per engine


class SearchError(ParamError):
    """A request that cannot be answered; `status` is the HTTP status a view should use (400, 404, 409, 413)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class SearchParams:
    """Validated parameters of a similarity search."""

    model: str = DEFAULT_MODEL
    version: str | None = None
    top_n: int = 100
    page: int = 1
    metric: str = "cosine"
    weight: float = 0.5
    filters: Filters = field(default_factory=Filters)


@dataclass
class SearchResult:
    """One page of hits, best first, with what produced them."""

    hits: list[dict[str, Any]]
    total: int
    model: str
    version: str
    page: int
    top_n: int
    exact: bool
    timings: dict[str, float]


def _int(value: Any, name: str, default: int, low: int, high: int | None = None) -> int:
    if high is None:
        return integer(value, name, low=low, default=default)
    return integer(value, name, low=low, high=high, default=default)


def _weight(raw: Any) -> float:
    return number(raw, "weight", low=0.0, high=1.0, default=0.5)


def parse_page(params: Mapping[str, Any], settings: Settings, default_per_page: int = 60) -> tuple[int, int]:
    """(page, per_page) for catalogue pages; per_page at most Settings.max_top_n."""
    page = _int(params.get("page"), "page", 1, 1)
    per_page = _int(params.get("per_page"), "per_page", default_per_page, 1, settings.max_top_n)
    return page, per_page


def parse_search_params(params: Mapping[str, Any], settings: Settings) -> SearchParams:
    """SearchParams from query parameters, form fields or a JSON body; SearchError (400) when malformed."""
    model = params.get("model") or DEFAULT_MODEL
    if model not in MODEL_NAMES:
        raise SearchError(f"unknown model {str(model)[:40]!r}; choose from {', '.join(MODEL_NAMES)}")
    version = params.get("version") or None
    if version is not None and (not isinstance(version, str) or not VERSION_RE.match(version)):
        raise SearchError(f"unknown version {str(version)[:40]!r} of model {model!r}")
    top_n = _int(params.get("topN", params.get("top_n")), "topN", settings.default_top_n, 1, settings.max_top_n)
    page = _int(params.get("page"), "page", 1, 1)
    if page * top_n > settings.max_top_n * DEPTH_FACTOR:
        raise SearchError(f"page {page} is too deep: page * topN may be at most {settings.max_top_n * DEPTH_FACTOR}")
    metric = params.get("metric") or "cosine"
    if metric not in METRICS:
        raise SearchError(f"metric must be one of {', '.join(METRICS)}")
    weight = _weight(params.get("weight"))
    try:
        filters = parse_filters(params)
    except FilterError as exc:
        raise SearchError(str(exc)) from None
    return SearchParams(model, version, top_n, page, metric, weight, filters)


def similarity(scores: np.ndarray, metric: str) -> np.ndarray:
    """Scores (cosines of unit vectors) as similarities in [0, 1]: the cosine, or 1 / (1 + euclidean distance)."""
    s = np.asarray(scores, dtype=np.float64)
    if metric == "euclidean":
        return 1.0 / (1.0 + np.sqrt(np.clip(2.0 - 2.0 * s, 0.0, 4.0)))
    return np.clip(s, 0.0, 1.0)


class SearchEngine:
    """The search core shared by the web app, the CLI and the tests: cached indexes, metadata, extractors."""

    def __init__(self, settings: Settings, catalog: Catalog | None = None, metadata_interval: float = 1.0):
        self.settings = settings
        self.catalog = catalog or Catalog(settings.db_path)
        self.indexes = IndexCache(settings.features_dir, settings.data_dir / "indexes", settings.exact_index_max_rows)
        self.metadata = MetadataSource(self.catalog, interval=metadata_interval)
        self.embedder = QueryEmbedder(self.indexes.store)
        self._warming: threading.Thread | None = None
        self._allowed: dict[tuple, np.ndarray | None] = {}
        self._allowed_lock = threading.Lock()

    @property
    def ready(self) -> bool:
        """False while a warm-up is building indexes (a request then may wait for its index)."""
        return self._warming is None or not self._warming.is_alive()

    # -- versions --
    def version_for(self, model: str, version: str | None) -> str:
        """The requested version, else the active one, else the newest stored; SearchError when unknown."""
        store = self.indexes.store
        if version is None:
            version = self.catalog.active_version(model)
            if version is None or not store.exists(model, version):
                stored = store.versions(model)
                if not stored:
                    raise SearchError(f"no feature versions of {model} yet: run extract_features.py", 409)
                version = stored[-1]
        try:
            found = store.exists(model, version)
        except FeatureStoreError:
            found = False
        if not found:
            raise SearchError(f"unknown version {version!r} of model {model!r}")
        return version

    def index(self, model: str, version: str | None) -> LoadedIndex:
        v = self.version_for(model, version)
        try:
            return self.indexes.get(model, v)
        except FeatureStoreError as exc:
            raise SearchError(str(exc), 409) from exc

    # -- similarity --
    def similar_to_image(self, ref: str | int, params: SearchParams) -> SearchResult:
        """Designs most like a catalogue image (by id, relative path or file name); the image left out."""
        started = time.perf_counter()
        table = self.metadata.table()
        image_id = self._resolve(table, ref)
        loaded = self.index(params.model, params.version)
        row = loaded.row_of(image_id)
        if row is None:
            raise SearchError(f"image {image_id} has no {params.model}/{loaded.version} features yet", 409)
        query = self._query_row(loaded, row, params.weight)
        return self._run(loaded, table, query, params, row, started)

    def similar_to_upload(self, data: bytes, params: SearchParams) -> SearchResult:
        """Designs most like an uploaded image: decode safely, extract with the version's extractor, search."""
        started = time.perf_counter()
        if len(data) > self.settings.max_upload_bytes:
            raise SearchError(f"upload too large: at most {self.settings.max_upload_bytes:,} bytes", 413)
        version = self.version_for(params.model, params.version)
        try:
            # decoded the way ingest decodes catalogue files (which also keeps enough for a thumbnail)
            side = max(self.embedder.decode_side(params.model, version), self.settings.thumb_size)
            img = open_image(data, max_pixels=self.settings.max_image_pixels, draft_side=side,
                             slots=self.settings.decode_slots)
        except ImageError as exc:
            raise SearchError(f"not a usable image: {exc}", 400) from None
        decoded = time.perf_counter()
        try:
            query = self.embedder.embed(img, params.model, version, params.weight)
        except EmbedError as exc:
            raise SearchError(str(exc), 409) from exc
        extracted = time.perf_counter()
        loaded = self.index(params.model, version)
        table = self.metadata.table()
        result = self._run(loaded, table, query, params, None, started)
        result.timings.update(decode_ms=_ms(decoded - started), extract_ms=_ms(extracted - decoded))
        return result

    def _resolve(self, table: MetadataTable, ref: str | int) -> int:
        """The image id of a reference; the database is asked only when the in-memory table may be stale."""
        if isinstance(ref, int):
            if table.position(ref) is None and (self.metadata.is_current() or self.catalog.image(ref) is None):
                raise SearchError(f"unknown image id {ref}", 404)
            return ref
        pos = table.find(ref)
        if pos is not None:
            return int(table.ids[pos])
        found = None if self.metadata.is_current() else self.catalog.find_image(ref)
        if found is None:
            raise SearchError(f"unknown image {ref[:200]!r}", 404)
        return found.id

    def _query_row(self, loaded: LoadedIndex, row: int, weight: float) -> np.ndarray:
        vec = np.asarray(loaded.index.rows[row], dtype=np.float32)
        if loaded.model != COMBINED:
            return vec
        from swatch.features.base import combined_query

        split = int(loaded.feature_info.get("color_dim", 0))
        if not split:
            return vec
        color, pattern = vec[:split] * np.sqrt(2.0), vec[split:] * np.sqrt(2.0)
        return combined_query(color[None, :], pattern[None, :], weight)[0]

    def allowed_rows(self, loaded: LoadedIndex, table: MetadataTable, filters: Filters) -> np.ndarray | None:
        """Rows of `loaded` that are live and pass `filters` (None: every row)."""
        meta = loaded.positions_in(table.ids, table.generation)
        if filters.cluster is not None and not cluster_version_exists(self.catalog, filters.cluster.version):
            raise SearchError(f"unknown cluster version {filters.cluster.version!r}")
        mask = filters.mask(table, self.metadata.cluster_labels)
        live = meta >= 0
        if mask is None:
            return None if bool(live.all()) else live
        allowed = np.zeros(len(meta), bool)
        allowed[live] = mask[meta[live]]
        return allowed

    def _allowed_cached(self, loaded: LoadedIndex, table: MetadataTable, filters: Filters) -> np.ndarray | None:
        """allowed_rows, remembered for the latest few (snapshot, metadata generation, filters); cluster
        filters are recomputed (hand moves change them without touching image metadata)."""
        if filters.cluster is not None:
            return self.allowed_rows(loaded, table, filters)
        key = (loaded.model, loaded.version, loaded.folder, table.generation, filters)
        found = self._allowed.get(key, False)
        if found is not False:
            return found  # type: ignore[return-value]
        allowed = self.allowed_rows(loaded, table, filters)
        if allowed is not None:
            allowed.setflags(write=False)
        with self._allowed_lock:
            while len(self._allowed) >= ALLOWED_CACHE:
                self._allowed.pop(next(iter(self._allowed)))
            self._allowed[key] = allowed
        return allowed

    def _run(
        self, loaded: LoadedIndex, table: MetadataTable, query: np.ndarray, params: SearchParams,
        exclude: int | None, started: float,
    ) -> SearchResult:
        t0 = time.perf_counter()
        allowed = self._allowed_cached(loaded, table, params.filters)
        depth = params.page * params.top_n
        extra = 0 if exclude is None else 1  # search one more and drop the query's own row
        total = loaded.index.ntotal if allowed is None else int(np.count_nonzero(allowed))
        if exclude is not None and (allowed is None or allowed[exclude]):
            total -= 1
        t1 = time.perf_counter()
        hits = loaded.index.search(query, depth + extra, allowed)
        count_search(loaded.model, hits.exact)
        t2 = time.perf_counter()
        rows, scores = hits.rows, hits.scores
        if extra:
            keep = rows != exclude
            rows, scores = rows[keep][:depth], scores[keep][:depth]
        start = (params.page - 1) * params.top_n
        rows, scores = rows[start:depth], scores[start:depth]
        meta = loaded.positions_in(table.ids, table.generation)
        sims = similarity(scores, params.metric)
        out = []
        for row, score, sim in zip(rows.tolist(), scores.tolist(), sims.tolist(), strict=True):
            pos = int(meta[row])
            item: dict[str, Any] = table.public(pos) if pos >= 0 else {"id": int(loaded.ids[row])}
            item.update(version=loaded.version, similarity=round(float(sim), 6), score=round(float(score), 6))
            out.append(item)
        t3 = time.perf_counter()
        timings = {"filter_ms": _ms(t1 - t0), "search_ms": _ms(t2 - t1), "rows_ms": _ms(t3 - t2),
                   "total_ms": _ms(t3 - started)}
        return SearchResult(out, max(total, 0), loaded.model, loaded.version, params.page, params.top_n,
                            hits.exact, timings)

    # -- browsing --
    def browse(self, filters: Filters, q: str = "", page: int = 1, per_page: int = 60) -> dict[str, Any]:
        """A page of the catalogue in name order, narrowed by text (`q` in name/design/quality) and filters."""
        table = self.metadata.table()
        if filters.cluster is not None and not cluster_version_exists(self.catalog, filters.cluster.version):
            raise SearchError(f"unknown cluster version {filters.cluster.version!r}")
        mask = filters.mask(table, self.metadata.cluster_labels)
        words = q.casefold().split()
        if words:
            text = np.fromiter((all(w in hay for w in words) for hay in table.haystack), bool, len(table))
            mask = text if mask is None else mask & text
        order = table.by_name if mask is None else table.by_name[mask[table.by_name]]
        start = (page - 1) * per_page
        return {"images": [table.public(int(p)) for p in order[start : start + per_page]],
                "total": int(len(order)), "page": page, "per_page": per_page}

    def image(self, image_id: int) -> dict[str, Any]:
        table = self.metadata.table()
        if table.position(image_id) is None and not self.metadata.is_current():
            table = self.metadata.refresh()
        pos = table.position(image_id)
        if pos is None:
            raise SearchError(f"unknown image id {image_id}", 404)
        return table.public(pos)

    def facets(self) -> dict[str, Any]:
        """Distinct values for the filter controls: seasons, qualities, designs (with counts), fibres, clusters."""
        table = self.metadata.table()
        cached = table.facets_cache.get("facets")
        if cached is None:
            counts = np.bincount(table.design.codes[table.design.codes >= 0], minlength=len(table.design.values))
            cached = {
                "seasons": sorted(table.season.values),
                "qualities": sorted(table.quality.values, key=str.casefold),
                "designs": [{"value": v, "label": f"{v} ({int(c)})", "count": int(c)}
                            for v, c in sorted(zip(table.design.values, counts.tolist(), strict=True))],
                "fibres": sorted(table.fibres),
            }
            table.facets_cache["facets"] = cached
        versions = [dict(v, label=f"{v['version']} · {v['model']} · {v['k']} clusters")
                    for v in self.metadata.cluster_versions()]
        return {**cached, "cluster_versions": versions, "images": len(table)}

    # -- model versions --
    def models(self) -> dict[str, Any]:
        """Every model with its versions (catalogue registry and feature store), which is active, and infos."""
        store = self.indexes.store
        out = []
        for model in MODEL_NAMES:
            registered = {v["version"]: v for v in self.catalog.model_versions(model)}
            stored = set(store.versions(model))
            active = self.catalog.active_version(model)
            versions = []
            for version in sorted(set(registered) | stored, key=lambda v: int(v[1:])):
                entry = registered.get(version, {})
                loaded = self.indexes.peek(model, version)
                versions.append({
                    "version": version, "active": version == active, "created_at": entry.get("created_at"),
                    "info": entry.get("info", {}), "features": self._features_info(model, version, stored),
                    "index": loaded.index.info if loaded else read_info(self.indexes.indexes_root, model, version),
                })
            out.append({"model": model, "active": active, "versions": versions})
        return {"models": out}

    def _features_info(self, model: str, version: str, stored: set[str]) -> dict[str, Any] | None:
        if version not in stored:
            return None
        try:
            info = self.embedder.info(model, version)
        except FeatureStoreError:
            return None
        return {k: info.get(k) for k in ("count", "dim", "created", "kind", "extractor") if k in info}

    def activate(self, model: str, version: str) -> dict[str, Any]:
        """Make `version` the active one of `model` (it must be registered and stored); warms its index."""
        if model not in MODEL_NAMES:
            raise SearchError(f"unknown model {str(model)[:40]!r}; choose from {', '.join(MODEL_NAMES)}")
        if not isinstance(version, str) or not VERSION_RE.match(version) or not self.indexes.store.exists(model, version):
            raise SearchError(f"unknown version {str(version)[:40]!r} of model {model!r}")
        try:
            self.catalog.activate_model_version(model, version)
        except KeyError as exc:
            raise SearchError(str(exc.args[0])) from None
        pairs = [(model, version)]
        # color+pattern vN is built on pattern vN: switching the pattern model switches the combination with it
        if model == "pattern" and self.indexes.store.exists("color+pattern", version):
            try:
                self.catalog.activate_model_version("color+pattern", version)
                pairs.append(("color+pattern", version))
            except KeyError:
                pass
        self.warm_up_async(pairs)
        return {"model": model, "active": version, "also": [m for m, _ in pairs[1:]]}

    # -- warm-up --
    def warm_up(self, pairs: list[tuple[str, str]] | None = None) -> None:
        """Load the metadata and build the indexes of the active versions (or `pairs`)."""
        self.metadata.table()
        for model, version in pairs or [(m, None) for m in MODEL_NAMES]:  # type: ignore[misc]
            try:
                self.index(model, version)
            except SearchError as exc:
                log.info("not warming %s: %s", model, exc)

    def warm_up_async(self, pairs: list[tuple[str, str]] | None = None) -> threading.Thread:
        thread = threading.Thread(target=self._warm_quietly, args=(pairs,), name="swatch-warm-up", daemon=True)
        thread.start()
        self._warming = thread
        return thread

    def _warm_quietly(self, pairs: list[tuple[str, str]] | None) -> None:
        try:
            self.warm_up(pairs)
        except Exception as exc:  # noqa: BLE001 - a failed warm-up only means the first request builds
            log.warning("index warm-up failed: %s", exc)

    def status(self) -> dict[str, Any]:
        return {"ready": self.ready, "indexes": [f"{e.model}/{e.version}" for e in self.indexes.loaded()]}


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)
