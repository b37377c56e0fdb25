"""SearchEngine: the one object the web app, CLI and tests hold; it only wires the search parts together."""

from __future__ import annotations

import threading
from typing import Any

from swatch.catalog.db import Catalog
from swatch.catalog.snapshot import MetadataSource
from swatch.config import Settings
from swatch.features.embed import QueryEmbedder
from swatch.search.browse import Browser
from swatch.search.cache import IndexCache, vector_backend
from swatch.search.colour_query import ColourSearch
from swatch.search.engine import SearchResult, SimilaritySearch
from swatch.search.filters import AllowedRows, Filters
from swatch.search.harmony import HarmonySearch
from swatch.search.params import SearchParams
from swatch.search.registry import ModelRegistry


class SearchEngine:
    """Cached indexes, the metadata snapshot and the query embedder, shared by the similarity search, the
    catalogue browser and the model registry."""

    def __init__(self, settings: Settings, catalog: Catalog | None = None, metadata_interval: float = 1.0):
        self.settings = settings
        self.catalog = catalog or Catalog(settings.database)
        self.metadata = MetadataSource(self.catalog, interval=metadata_interval)
        self.indexes = IndexCache(settings.features_dir, settings.data_dir / "indexes",
                                  settings.exact_index_max_rows, backend=vector_backend(settings, self.metadata))
        self.embedder = QueryEmbedder(self.indexes.store)
        self.allowed = AllowedRows(self.catalog, self.metadata)
        self.registry = ModelRegistry(self.catalog, self.indexes, self.metadata, self.embedder)
        self.similar = SimilaritySearch(settings, self.catalog, self.metadata, self.registry, self.embedder,
                                        self.allowed)
        self.browser = Browser(self.catalog, self.metadata)
        self.harmony = HarmonySearch(self.catalog, self.metadata)
        self.colours = ColourSearch(self.registry, self.embedder, self.similar, self.harmony)

    # -- similarity --
    def similar_to_image(self, ref: str | int, params: SearchParams) -> SearchResult:
        return self.similar.similar_to_image(ref, params)

    def similar_to_upload(self, data: bytes, params: SearchParams) -> SearchResult:
        return self.similar.similar_to_upload(data, params)

    # -- browsing --
    def browse(self, filters: Filters, q: str = "", page: int = 1, per_page: int = 60) -> dict[str, Any]:
        return self.browser.browse(filters, q, page, per_page)

    def image(self, image_id: int) -> dict[str, Any]:
        return self.browser.image(image_id)

    def facets(self) -> dict[str, Any]:
        return self.browser.facets()

    # -- model versions --
    @property
    def ready(self) -> bool:
        return self.registry.ready

    def models(self) -> dict[str, Any]:
        return self.registry.models()

    def activate(self, model: str, version: str) -> dict[str, Any]:
        return self.registry.activate(model, version)

    def warm_up(self, pairs: list[tuple[str, str]] | None = None) -> None:
        self.registry.warm_up(pairs)

    def warm_up_async(self, pairs: list[tuple[str, str]] | None = None) -> threading.Thread:
        return self.registry.warm_up_async(pairs)

    def status(self) -> dict[str, Any]:
        return self.registry.status()
