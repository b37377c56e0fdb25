"""Search by picked colours: up to five colours with shares -> a query row of the colour model -> its index.

The row is built the way the colour model describes an image (`features.colourspace.palette_descriptor`): the
soft CIELAB histogram of pixels that are exactly these colours in these shares, so it is compared with the
catalogue's stored colour rows by the same cosine as a click on a design, through the same index and filters.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from swatch.bounds import ParamError, number
from swatch.config import Settings
from swatch.features.color import ColorExtractor
from swatch.features.colourspace import hex_to_lab, palette_descriptor
from swatch.features.embed import EmbedError, QueryEmbedder
from swatch.features.versions import transform_rows
from swatch.search.engine import SearchResult, SimilaritySearch
from swatch.search.errors import SearchError
from swatch.search.filters import Filters
from swatch.search.harmony import HarmonySearch, parse_hex
from swatch.search.params import SearchParams, parse_window, search_filters
from swatch.search.registry import ModelRegistry

MAX_COLOURS = 5
SHARE_SLACK = 0.01  # shares must sum to 1 within this, unless "normalise" is true
MODEL = "color"
MATCH_DELTA_E = 15.0  # a result's palette colour this close (CIELAB distance) to a picked colour "matched" it


@dataclass(frozen=True)
class PickedColour:
    """One picked colour and its share of the colour story."""

    hex: str
    share: float


@dataclass(frozen=True)
class ColourQuery:
    """A validated search by colours: the colours (shares summing to 1), the colour model version, topN, filters."""

    colours: tuple[PickedColour, ...]
    version: str | None = None
    top_n: int = 24
    page: int = 1
    filters: Filters = field(default_factory=Filters)


def parse_colour_query(params: Mapping[str, Any], settings: Settings) -> ColourQuery:
    """A ColourQuery from a JSON body; SearchError (400) naming what is wrong."""
    raw = params.get("colors", params.get("colours"))
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_COLOURS:
        count = f"got {len(raw)}" if isinstance(raw, list) else "got none"
        raise SearchError(f'colors must be a list of 1 to {MAX_COLOURS} {{"hex": "#rrggbb", "share": 0.5}}, {count}')
    normalise = params.get("normalise", params.get("normalize", False))
    if not isinstance(normalise, bool):
        raise SearchError("normalise must be true or false")
    colours = []
    for k, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise SearchError(f'colors[{k}] must be {{"hex": "#rrggbb", "share": 0.5}}')
        unknown = set(item) - {"hex", "share"}
        if unknown:
            raise SearchError(f"colors[{k}] has unknown key(s): {', '.join(sorted(map(str, unknown)))[:80]}")
        hex_ = parse_hex(item.get("hex"), f"colors[{k}].hex")
        share = _share(item.get("share"), k, len(raw))
        colours.append(PickedColour(hex_, share))
    total = sum(c.share for c in colours)
    if normalise:
        colours = [PickedColour(c.hex, c.share / total) for c in colours]
    elif abs(total - 1.0) > SHARE_SLACK:
        raise SearchError(f"colour shares must sum to 1 (within {SHARE_SLACK}), they sum to {total:.3g}; "
                          'send "normalise": true to scale them')
    window = parse_window(params, settings, MODEL)
    return ColourQuery(tuple(colours), window.version, window.top_n, window.page, search_filters(params))


def _share(value: Any, k: int, count: int) -> float:
    """A colour's share: a number above 0 and at most 1 (1 when it is the only colour and none is given)."""
    if value is None and count == 1:
        return 1.0
    try:
        share = number(value, f"colors[{k}].share", low=0.0, high=1.0)
    except ParamError as exc:
        raise SearchError(str(exc)) from None
    if share <= 0.0:
        raise SearchError(f"colors[{k}].share must be above 0")
    return share


def colour_row(extractor: ColorExtractor, colours: tuple[PickedColour, ...]) -> np.ndarray:
    """The (dim,) unit colour-model row of picked colours (before any derived version's transform)."""
    lab = hex_to_lab([c.hex for c in colours])
    return palette_descriptor(extractor, lab, np.array([c.share for c in colours], np.float32))


class ColourSearch:
    """Searches the colour model's index with a row built from picked colours."""

    def __init__(self, registry: ModelRegistry, embedder: QueryEmbedder, similar: SimilaritySearch,
                 harmony: HarmonySearch):
        self.registry = registry
        self.embedder = embedder
        self.similar = similar
        self.harmony = harmony

    def query_row(self, colours: tuple[PickedColour, ...], version: str) -> np.ndarray:
        """The query row of `colours` for colour version `version` (a derived version's transform applied)."""
        extractor = self.embedder.extractor(MODEL, version)
        if not isinstance(extractor, ColorExtractor):
            raise SearchError(f"{MODEL}/{version} is not a colour histogram version", 409)
        info = self.embedder.info(MODEL, version)
        out = transform_rows(MODEL, info, colour_row(extractor, colours)[None, :])
        if out.shape[1] != int(info.get("dim") or out.shape[1]):
            raise SearchError(f"{MODEL}/{version} rows have {info.get('dim')} values but a query has "
                              f"{out.shape[1]}", 409)
        return np.asarray(out[0], dtype=np.float32)

    def search(self, query: ColourQuery) -> SearchResult:
        started = time.perf_counter()
        version = self.registry.version_for(MODEL, query.version)
        try:
            row = self.query_row(query.colours, version)
        except EmbedError as exc:
            raise SearchError(str(exc), 409) from exc
        params = SearchParams(MODEL, version, query.top_n, query.page, "cosine", 0.5, query.filters)
        result = self.similar.similar_to_vector(self.registry.index(MODEL, version), row, params)
        self.annotate(result.hits, query.colours)
        result.timings["total_ms"] = round((time.perf_counter() - started) * 1000.0, 3)
        return result

    def annotate(self, hits: list[dict[str, Any]], colours: tuple[PickedColour, ...]) -> None:
        """Each hit's stored palette and the colours of it within MATCH_DELTA_E of a picked colour."""
        table = self.harmony.metadata.table()
        arrays = self.harmony.arrays(table)
        picked = hex_to_lab([c.hex for c in colours])
        for hit in hits:
            pos = table.position(int(hit["id"]))
            if pos is None:
                hit.update(palette=[], matched=[])
                continue
            dist = np.linalg.norm(arrays.lab[pos][:, None, :] - picked[None, :, :], axis=-1).min(axis=1)
            near = dist < MATCH_DELTA_E
            hit.update(palette=[s.to_json() for s in arrays.swatches(pos)],
                       matched=[s.to_json() for s in arrays.swatches(pos, near)])
