"""Similarity search: the designs most like a catalogue image or an uploaded one, one page at a time."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from swatch.catalog.db import Catalog
from swatch.catalog.snapshot import MetadataSource, MetadataTable
from swatch.config import Settings
from swatch.features.embed import EmbedError, QueryEmbedder
from swatch.features.versions import COMBINED
from swatch.images import ImageError, open_image
from swatch.metrics import count_search
from swatch.search.cache import LoadedIndex
from swatch.search.errors import SearchError
from swatch.search.filters import AllowedRows
from swatch.search.params import SearchParams
from swatch.search.registry import ModelRegistry
from swatch.search.vectors import FilteringIndex


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


def similarity(scores: np.ndarray, metric: str) -> np.ndarray:
    """Scores (cosines of unit vectors) as similarities in [0, 1]: the cosine, or 1 / (1 + L2 distance)."""
    s = np.asarray(scores, dtype=np.float64)
    if metric == "euclidean":
        return 1.0 / (1.0 + np.sqrt(np.clip(2.0 - 2.0 * s, 0.0, 4.0)))
    return np.clip(s, 0.0, 1.0)


class SimilaritySearch:
    """Ranks the rows of a model version's index against a query vector, filtered, paged and described."""

    def __init__(
        self, settings: Settings, catalog: Catalog, metadata: MetadataSource, registry: ModelRegistry,
        embedder: QueryEmbedder, allowed: AllowedRows,
    ):
        self.settings = settings
        self.catalog = catalog
        self.metadata = metadata
        self.registry = registry
        self.embedder = embedder
        self.allowed = allowed

    def similar_to_image(self, ref: str | int, params: SearchParams) -> SearchResult:
        """Designs most like a catalogue image (by id, relative path or file name); the image left out."""
        started = time.perf_counter()
        table = self.metadata.table()
        image_id = self._resolve(table, ref)
        loaded = self.registry.index(params.model, params.version)
        row = loaded.row_of(image_id)
        if row is None:
            raise SearchError(f"image {image_id} has no {params.model}/{loaded.version} features yet", 409)
        query = self.query_row(loaded, row, params.weight)
        return self._run(loaded, table, query, params, (row,), started)

    def similar_to_upload(self, data: bytes, params: SearchParams) -> SearchResult:
        """Designs most like an uploaded image: decode safely, embed with the version's extractor, search."""
        started = time.perf_counter()
        if len(data) > self.settings.max_upload_bytes:
            raise SearchError(f"upload too large: at most {self.settings.max_upload_bytes:,} bytes", 413)
        version = self.registry.version_for(params.model, params.version)
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
        loaded = self.registry.index(params.model, version)
        table = self.metadata.table()
        result = self._run(loaded, table, query, params, (), started)
        result.timings.update(decode_ms=_ms(decoded - started), extract_ms=_ms(extracted - decoded))
        return result

    def _resolve(self, table: MetadataTable, ref: str | int) -> int:
        """The image id of a reference; the database is asked only when the in-memory table may be stale."""
        if isinstance(ref, int):
            if table.position(ref) is None and (
                self.metadata.is_current() or self.catalog.image(ref) is None
            ):
                raise SearchError(f"unknown image id {ref}", 404)
            return ref
        pos = table.find(ref)
        if pos is not None:
            return int(table.ids[pos])
        found = None if self.metadata.is_current() else self.catalog.find_image(ref)
        if found is None:
            raise SearchError(f"unknown image {ref[:200]!r}", 404)
        return found.id

    def similar_to_vector(
        self, loaded: LoadedIndex, query: np.ndarray, params: SearchParams, exclude: Sequence[int] = ()
    ) -> SearchResult:
        """Designs most like a query vector of `loaded`'s space, the rows in `exclude` left out."""
        return self._run(loaded, self.metadata.table(), query, params, tuple(exclude), time.perf_counter())

    def query_row(self, loaded: LoadedIndex, row: int, weight: float) -> np.ndarray:
        """The query vector of a catalogue row (for colour + pattern: re-weighted by `weight`)."""
        vec = loaded.index.vector(row)
        if loaded.model != COMBINED:
            return vec
        from swatch.features.base import combined_query

        split = int(loaded.feature_info.get("color_dim", 0))
        if not split:
            return vec
        color, pattern = vec[:split] * np.sqrt(2.0), vec[split:] * np.sqrt(2.0)
        return combined_query(color[None, :], pattern[None, :], weight)[0]

    def _run(
        self, loaded: LoadedIndex, table: MetadataTable, query: np.ndarray, params: SearchParams,
        exclude: tuple[int, ...], started: float,
    ) -> SearchResult:
        """Filter, search one page deep (plus the rows to leave out, e.g. the query's own), describe the page."""
        t0 = time.perf_counter()
        depth = params.page * params.top_n
        left_out = sorted(set(exclude))
        extra = len(left_out)  # search that many more and drop them
        spec = self.allowed.spec(loaded, table, params.filters, tuple(left_out))
        if spec is not None:  # the index evaluates the filters inside its search (Milvus)
            t1 = time.perf_counter()
            found = cast(FilteringIndex, loaded.index).search_filtered(query, depth + extra, spec)
            hits, total = found.hits, found.total
        else:
            allowed = self.allowed.get(loaded, table, params.filters)
            total = loaded.index.ntotal if allowed is None else int(np.count_nonzero(allowed))
            total -= sum(1 for r in left_out if allowed is None or allowed[r])
            t1 = time.perf_counter()
            hits = loaded.index.search(query, depth + extra, allowed)
        count_search(loaded.model, hits.exact)
        t2 = time.perf_counter()
        rows, scores = hits.rows, hits.scores
        if extra:
            keep = ~np.isin(rows, np.asarray(left_out, dtype=rows.dtype))
            rows, scores = rows[keep][:depth], scores[keep][:depth]
        start = (params.page - 1) * params.top_n
        out = self._describe(loaded, table, rows[start:depth], scores[start:depth], params.metric)
        t3 = time.perf_counter()
        timings = {"filter_ms": _ms(t1 - t0), "search_ms": _ms(t2 - t1), "rows_ms": _ms(t3 - t2),
                   "total_ms": _ms(t3 - started)}
        return SearchResult(out, max(total, 0), loaded.model, loaded.version, params.page, params.top_n,
                            hits.exact, timings)

    @staticmethod
    def _describe(
        loaded: LoadedIndex, table: MetadataTable, rows: np.ndarray, scores: np.ndarray, metric: str
    ) -> list[dict[str, Any]]:
        """The public JSON of each hit's image with its version, similarity and raw score."""
        meta = loaded.positions_in(table.ids, table.generation)
        sims = similarity(scores, metric)
        out = []
        for row, score, sim in zip(rows.tolist(), scores.tolist(), sims.tolist(), strict=True):
            pos = int(meta[row])
            item: dict[str, Any] = table.public(pos) if pos >= 0 else {"id": int(loaded.ids[row])}
            item.update(version=loaded.version, similarity=round(float(sim), 6), score=round(float(score), 6))
            out.append(item)
        return out


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)
