"""Model versions for search: which version a request gets, the /api/models listing, activation, warm-up."""

from __future__ import annotations

import logging
import threading
from typing import Any

from swatch.catalog.db import Catalog
from swatch.catalog.snapshot import MetadataSource
from swatch.features.base import MODEL_NAMES
from swatch.features.embed import QueryEmbedder
from swatch.features.store import VERSION_RE, FeatureStoreError
from swatch.search.cache import IndexCache, LoadedIndex
from swatch.search.errors import SearchError
from swatch.search.params import check_model

log = logging.getLogger(__name__)


class ModelRegistry:
    """Resolves (model, version) to a loaded index, lists and activates versions, warms indexes up."""

    def __init__(
        self, catalog: Catalog, indexes: IndexCache, metadata: MetadataSource, embedder: QueryEmbedder
    ):
        self.catalog = catalog
        self.indexes = indexes
        self.metadata = metadata
        self.embedder = embedder
        self._warming: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        """False while a warm-up is building indexes (a request then may wait for its index)."""
        return self._warming is None or not self._warming.is_alive()

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
        """The loaded index of a model version (see version_for); SearchError (409) when unreadable."""
        v = self.version_for(model, version)
        try:
            return self.indexes.get(model, v)
        except FeatureStoreError as exc:
            raise SearchError(str(exc), 409) from exc

    def models(self) -> dict[str, Any]:
        """Every model with its versions (catalogue registry and feature store), the active one, infos."""
        store, backend = self.indexes.store, self.indexes.backend
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
                    "index": loaded.index.info if loaded else backend.stored_info(model, version),
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
        check_model(model)
        store = self.indexes.store
        if not isinstance(version, str) or not VERSION_RE.match(version) or not store.exists(model, version):
            raise SearchError(f"unknown version {str(version)[:40]!r} of model {model!r}")
        try:
            self.catalog.activate_model_version(model, version)
        except KeyError as exc:
            raise SearchError(str(exc.args[0])) from None
        pairs = [(model, version)]
        # color+pattern vN is built on pattern vN: switching the pattern model switches the combination too
        if model == "pattern" and self.indexes.store.exists("color+pattern", version):
            try:
                self.catalog.activate_model_version("color+pattern", version)
                pairs.append(("color+pattern", version))
            except KeyError:
                pass
        self.warm_up_async(pairs)
        return {"model": model, "active": version, "also": [m for m, _ in pairs[1:]]}

    def warm_up(self, pairs: list[tuple[str, str]] | None = None) -> None:
        """Load the metadata and build the indexes of the active versions (or `pairs`)."""
        self.metadata.table()
        for model, version in pairs or [(m, None) for m in MODEL_NAMES]:  # type: ignore[misc]
            try:
                self.index(model, version)
            except SearchError as exc:
                log.info("not warming %s: %s", model, exc)

    def warm_up_async(self, pairs: list[tuple[str, str]] | None = None) -> threading.Thread:
        """warm_up in a daemon thread; `ready` is False until it ends."""
        thread = threading.Thread(target=self._warm_quietly, args=(pairs,), name="swatch-warm-up",
                                  daemon=True)
        thread.start()
        self._warming = thread
        return thread

    def _warm_quietly(self, pairs: list[tuple[str, str]] | None) -> None:
        try:
            self.warm_up(pairs)
        except Exception as exc:  # noqa: BLE001 - a failed warm-up only means the first request builds
            log.warning("index warm-up failed: %s", exc)

    def status(self) -> dict[str, Any]:
        """Readiness and the indexes this process holds."""
        return {"ready": self.ready, "indexes": [f"{e.model}/{e.version}" for e in self.indexes.loaded()]}
