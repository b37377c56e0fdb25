"""Query vectors for uploaded images: the version's own extractor settings, loaded once per process."""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
from PIL import Image

from swatch.features.base import COMBINED, Extractor, combined_query, extractor_from_params
from swatch.features.store import FeatureStore, FeatureStoreError
from swatch.features.versions import transform_rows


class EmbedError(ValueError):
    """A feature version whose extractor cannot be rebuilt here (its rows and a query would not compare)."""


class QueryEmbedder:
    """Turns an uploaded image into the query row of any (model, version), thread-safe and lazy."""

    def __init__(self, store: FeatureStore):
        self.store = store
        self._extractors: dict[tuple[str, str], Extractor] = {}
        self._infos: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def info(self, model: str, version: str) -> dict[str, Any]:
        """A feature version's info.json, cached per snapshot."""
        link = self.store.version_path(model, version)
        snap = str(link.resolve())
        key = (model, version, snap)
        found = self._infos.get(key)
        if found is None:
            try:
                found = json.loads((link / "info.json").read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise FeatureStoreError(f"feature version {model}/{version} is unreadable: {exc}") from exc
            self._infos[key] = found
        return found

    def decode_side(self, model: str, version: str) -> int:
        """The smallest side the version's extractors need; ingest decodes at max(this, thumbnail size)."""
        return max(ex.decode_side for ex in self._extractors_for(model, version))

    def embed(self, img: Image.Image, model: str, version: str, weight: float = 0.5) -> np.ndarray:
        """The (dim,) query row of `img` for `model`/`version` (color+pattern weighted by `weight`)."""
        if model == COMBINED:
            sources = self.info(model, version).get("sources", {})
            color = self._base_row(img, "color", str(sources.get("color", "v1")))
            pattern = self._base_row(img, "pattern", str(sources.get("pattern", version)))
            return combined_query(color[None, :], pattern[None, :], weight)[0]
        return self._base_row(img, model, version)

    def _extractors_for(self, model: str, version: str) -> list[Extractor]:
        if model == COMBINED:
            sources = self.info(model, version).get("sources", {})
            return [self._extractor("color", str(sources.get("color", "v1"))),
                    self._extractor("pattern", str(sources.get("pattern", version)))]
        return [self._extractor(model, version)]

    def _base_row(self, img: Image.Image, model: str, version: str) -> np.ndarray:
        info = self.info(model, version)
        rows = self._extractor(model, version).extract([img])
        out = transform_rows(model, info, rows)
        if out.shape[1] != int(info.get("dim") or out.shape[1]):
            raise EmbedError(f"{model}/{version} rows have {info.get('dim')} values but a query has {out.shape[1]}")
        return np.asarray(out[0], dtype=np.float32)

    def extractor(self, model: str, version: str) -> Extractor:
        """The extractor that made the rows of `version` (a picked-colours query is built with it)."""
        return self._extractor(model, version)

    def _extractor(self, model: str, version: str) -> Extractor:
        """The extractor that made the rows of `version` (or of its base version, for a derived one)."""
        info = self.info(model, version)
        base = str(info.get("base_version") or version)
        params = (self.info(model, base) if base != version else info).get("params", {})
        key = (model, json.dumps(params, sort_keys=True))
        ex = self._extractors.get(key)
        if ex is not None:
            return ex
        with self._lock:
            ex = self._extractors.get(key)
            if ex is None:
                ex = _build(model, base, params)
                self._extractors[key] = ex
        return ex


def _build(model: str, version: str, params: dict[str, Any]) -> Extractor:
    """The extractor ingest would make with these stored params (the registry's one way to rebuild one)."""
    try:
        return extractor_from_params(model, params)
    except (TypeError, ValueError) as exc:
        raise EmbedError(f"cannot rebuild the {model} extractor of {model}/{version} with {params}: {exc}") from exc
