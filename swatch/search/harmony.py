"""Colour harmony search: designs whose stored palettes follow a hue rule around a design's or a picked colour.

Works in CIE LCh (hue an angle that wraps at 0/360). Every live design's five stored palette colours are held as
(n, 5) arrays per catalogue snapshot, built once from the `palettes` table, so a search is one numpy scan.
A design's score is the share of its palette within HUE_TOLERANCE of the rule's target hues (colours on target
count fully, at the tolerance's edge half); achromatic colours (chroma < ACHROMATIC_CHROMA) never match a hue
rule: they match `monochromatic`, `tints`, `shades` of a grey query and `neutral`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from swatch.bounds import integer
from swatch.catalog.db import Catalog
from swatch.catalog.palettes import live_palettes, palette_count
from swatch.catalog.snapshot import MetadataSource, MetadataTable
from swatch.config import Settings
from swatch.features.color import DEFAULT_PALETTE_K
from swatch.features.colourspace import ACHROMATIC_CHROMA, HEX_RE, LCh, hex_to_lab, hue_distance, lab_to_lch
from swatch.search.errors import SearchError
from swatch.search.filters import FilterError, Filters, check_cluster_version, parse_filters

HUE_TOLERANCE = 15.0  # degrees either side of a target hue
LIGHTNESS_STEP = 8.0  # L* a tint is at least this much lighter than the base (a shade darker)
MIN_SHARE = 0.1  # a design is a result when at least this share of its palette follows the rule


@dataclass(frozen=True)
class Rule:
    """A harmony rule: target hues as offsets from the base hue; `lightness` +1 tints, -1 shades."""

    name: str
    offsets: tuple[float, ...]
    needs_hue: bool
    lightness: int = 0
    summary: str = ""


RULES: dict[str, Rule] = {r.name: r for r in (
    Rule("complementary", (180.0,), True, summary="the opposite hue"),
    Rule("analogous", (-30.0, 30.0), True, summary="the neighbouring hues, 30 degrees either side"),
    Rule("triadic", (120.0, -120.0), True, summary="the hues a third of the circle away"),
    Rule("split-complementary", (150.0, -150.0), True, summary="the two hues beside the opposite one"),
    Rule("monochromatic", (0.0,), False, summary="the same hue at any lightness and chroma (greys for a grey)"),
    Rule("tints", (0.0,), False, 1, summary="the same hue, lighter"),
    Rule("shades", (0.0,), False, -1, summary="the same hue, darker"),
    Rule("neutral", (), False, summary="achromatic colours: whites, greys, blacks"),
)}


@dataclass(frozen=True)
class Swatch:
    """One colour of a query or a result: hex, its palette share and LCh."""

    hex: str
    share: float
    lch: LCh

    def to_json(self) -> dict[str, Any]:
        return {"hex": self.hex, "share": round(self.share, 3),
                "lch": [round(self.lch.L, 1), round(self.lch.C, 1), round(self.lch.h, 1)],
                "achromatic": self.lch.achromatic}


@dataclass
class PaletteArrays:
    """The stored palettes of one metadata snapshot, aligned with its rows: (n, K) L, C, h and share (0 where a
    design has fewer colours or none stored) and the hex of each colour."""

    key: tuple[int, int]
    lightness: np.ndarray
    chroma: np.ndarray
    hue: np.ndarray
    share: np.ndarray
    hexes: np.ndarray  # (n, K) object array of "#rrggbb" ("" where empty)
    lab: np.ndarray  # (n, K, 3) CIELAB

    @classmethod
    def build(cls, table: MetadataTable, palettes: list[tuple[int, list[dict[str, Any]]]], key: tuple[int, int],
              k: int = DEFAULT_PALETTE_K) -> PaletteArrays:
        n = len(table)
        lab = np.zeros((n, k, 3), np.float64)
        share = np.zeros((n, k), np.float64)
        hexes = np.full((n, k), "", dtype=object)
        for image_id, palette in palettes:
            pos = table.position(image_id)
            if pos is None:
                continue
            for j, colour in enumerate(palette[:k]):
                try:
                    lab[pos, j] = [float(v) for v in colour["lab"]]
                    share[pos, j] = float(colour["share"])
                    hexes[pos, j] = str(colour["hex"])
                except (KeyError, TypeError, ValueError):
                    share[pos, j] = 0.0
        lch = lab_to_lch(lab)
        return cls(key, lch[..., 0], lch[..., 1], lch[..., 2], share, hexes, lab)

    def swatches(self, pos: int, mask: np.ndarray | None = None) -> list[Swatch]:
        """The colours of row `pos` (those in `mask` only, when given), largest share first."""
        out = []
        for j in np.argsort(-self.share[pos], kind="stable"):
            if self.share[pos, j] <= 0 or (mask is not None and not mask[j]):
                continue
            out.append(Swatch(str(self.hexes[pos, j]), float(self.share[pos, j]),
                              LCh(float(self.lightness[pos, j]), float(self.chroma[pos, j]), float(self.hue[pos, j]))))
        return out


def target_hues(rule: Rule, base: LCh) -> list[float]:
    """The hues a rule looks for around a base colour (none for an achromatic base or `neutral`)."""
    if base.achromatic or not rule.offsets:
        return []
    return [float(np.mod(base.h + off, 360.0)) for off in rule.offsets]


def rule_matches(arrays: PaletteArrays, rule: Rule, base: LCh) -> tuple[np.ndarray, np.ndarray]:
    """(matched (n, K) bool, closeness (n, K) in [0.5, 1]) of every stored colour under `rule` around `base`."""
    chromatic = arrays.chroma >= ACHROMATIC_CHROMA
    closeness = np.ones_like(arrays.share)
    if rule.name == "neutral" or base.achromatic:
        if rule.needs_hue:
            raise SearchError(f"a grey has no hue, so {rule.name} means nothing for it; choose monochromatic, "
                              "tints, shades or neutral")
        matched = ~chromatic
    else:
        targets = np.array(target_hues(rule, base))
        dist = hue_distance(arrays.hue[..., None], targets).min(axis=-1)
        matched = chromatic & (dist <= HUE_TOLERANCE)
        closeness = 1.0 - 0.5 * np.minimum(dist, HUE_TOLERANCE) / HUE_TOLERANCE
    if rule.lightness > 0:
        matched &= arrays.lightness >= base.L + LIGHTNESS_STEP
    elif rule.lightness < 0:
        matched &= arrays.lightness <= base.L - LIGHTNESS_STEP
    return matched & (arrays.share > 0), closeness


@dataclass
class Scan:
    """Every design's matched share and score under a rule, and the rows that are results, best first."""

    order: np.ndarray
    score: np.ndarray
    share: np.ndarray
    matched: np.ndarray


def scan(arrays: PaletteArrays, rule: Rule, base: LCh, allowed: np.ndarray | None = None) -> Scan:
    """The vectorised harmony scan: rows with at least MIN_SHARE of their palette following `rule` around
    `base` (and `allowed`), by score, best first (ties by row, i.e. by image id)."""
    matched, closeness = rule_matches(arrays, rule, base)
    share = (arrays.share * matched).sum(axis=1)
    score = (arrays.share * matched * closeness).sum(axis=1)
    keep = share >= MIN_SHARE - 1e-9
    if allowed is not None:
        keep &= allowed
    candidates = np.flatnonzero(keep)
    return Scan(candidates[np.argsort(-score[candidates], kind="stable")], score, share, matched)


@dataclass(frozen=True)
class HarmonyRequest:
    """A validated harmony search: the query (a design id or a picked colour), the rule, topN and filters."""

    rule: Rule
    image_id: int | None = None
    colour: str | None = None
    top_n: int = 24
    filters: Filters = field(default_factory=Filters)


@dataclass
class HarmonyResult:
    """The rule, the query's colours with the base one, its target hues, and the matching designs best first."""

    rule: Rule
    base: Swatch
    query_colours: list[Swatch]
    targets: list[float]
    hits: list[dict[str, Any]]
    total: int
    timings: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule.name, "summary": self.rule.summary, "tolerance": HUE_TOLERANCE,
                "min_share": MIN_SHARE, "base": self.base.to_json(),
                "query": [c.to_json() for c in self.query_colours], "targets": [round(t, 1) for t in self.targets],
                "total": self.total, "results": self.hits}


def parse_harmony(params: Mapping[str, Any], settings: Settings) -> HarmonyRequest:
    """A HarmonyRequest from a JSON body; SearchError (400) naming what is wrong."""
    name = params.get("rule")
    if not isinstance(name, str) or name not in RULES:
        raise SearchError(f"unknown rule {str(name)[:40]!r}; choose from {', '.join(RULES)}")
    has_id = params.get("id") not in (None, "")
    has_colour = params.get("color", params.get("colour")) not in (None, "")
    if has_id == has_colour:
        raise SearchError('give the query as "id" (a catalogue design) or "color" ("#rrggbb"), one of them')
    image_id = integer(params["id"], "id") if has_id else None
    colour = params.get("color", params.get("colour")) if has_colour else None
    if colour is not None:
        colour = parse_hex(colour, "color")
    top_n = integer(params.get("topN", params.get("top_n")), "topN", low=1, high=settings.max_top_n,
                    default=settings.default_top_n)
    try:
        filters = parse_filters(params)
    except FilterError as exc:
        raise SearchError(str(exc)) from None
    return HarmonyRequest(RULES[name], image_id, colour, top_n, filters)


def parse_hex(value: Any, name: str) -> str:
    """A '#rrggbb' colour, lower-cased; SearchError (400) otherwise."""
    if not isinstance(value, str) or not HEX_RE.fullmatch(value):
        raise SearchError(f'{name} must be a hex colour "#rrggbb", got {str(value)[:20]!r}')
    return value.lower()


class HarmonySearch:
    """Harmony searches over the stored palettes of the live catalogue (arrays rebuilt when it changes)."""

    def __init__(self, catalog: Catalog, metadata: MetadataSource):
        self.catalog = catalog
        self.metadata = metadata
        self._arrays: PaletteArrays | None = None
        self._lock = threading.Lock()

    def arrays(self, table: MetadataTable) -> PaletteArrays:
        """The palette arrays of `table`, built once per (metadata generation, number of stored palettes)."""
        key = (table.generation, palette_count(self.catalog, DEFAULT_PALETTE_K))
        found = self._arrays
        if found is not None and found.key == key:
            return found
        with self._lock:
            found = self._arrays
            if found is None or found.key != key:
                found = PaletteArrays.build(table, live_palettes(self.catalog, DEFAULT_PALETTE_K), key)
                self._arrays = found
        return found

    def search(self, req: HarmonyRequest) -> HarmonyResult:
        started = time.perf_counter()
        table = self.metadata.table()
        if req.image_id is not None and table.position(req.image_id) is None and not self.metadata.is_current():
            table = self.metadata.refresh()  # an image ingested since the table was read
        arrays = self.arrays(table)
        query_pos, query_colours = self._query(table, arrays, req)
        chromatic = [c for c in query_colours if not c.lch.achromatic]
        base = max(chromatic or query_colours, key=lambda c: c.share)
        check_cluster_version(self.catalog, req.filters)
        mask = req.filters.mask(table, self.metadata.cluster_labels)
        if query_pos is not None:  # the query design itself is left out
            mask = np.ones(len(table), bool) if mask is None else mask.copy()
            mask[query_pos] = False
        found = scan(arrays, req.rule, base.lch, mask)
        order, score, share, matched = found.order[: req.top_n], found.score, found.share, found.matched
        hits = []
        for pos in order.tolist():
            item = table.public(pos)
            item.update(score=round(float(score[pos]), 6), share=round(float(share[pos]), 6),
                        matched=[s.to_json() for s in arrays.swatches(pos, matched[pos])],
                        palette=[s.to_json() for s in arrays.swatches(pos)])
            hits.append(item)
        timings = {"total_ms": round((time.perf_counter() - started) * 1000.0, 3)}
        return HarmonyResult(req.rule, base, query_colours, target_hues(req.rule, base.lch), hits,
                             int(len(found.order)), timings)

    def _query(self, table: MetadataTable, arrays: PaletteArrays,
               req: HarmonyRequest) -> tuple[int | None, list[Swatch]]:
        """The query's row (None for a picked colour) and its colours."""
        if req.colour is not None:
            L, C, h = lab_to_lch(hex_to_lab([req.colour]))[0]
            return None, [Swatch(req.colour, 1.0, LCh(float(L), float(C), float(h)))]
        assert req.image_id is not None
        pos = table.position(req.image_id)
        if pos is None:
            raise SearchError(f"unknown image id {req.image_id}", 404)
        colours = arrays.swatches(pos)
        if not colours:
            raise SearchError(f"image {req.image_id} has no stored palette yet (open it once, or ingest again)", 409)
        return pos, colours


__all__ = ["HUE_TOLERANCE", "MIN_SHARE", "RULES", "HarmonyRequest", "HarmonyResult", "HarmonySearch",
           "PaletteArrays", "Rule", "Swatch", "parse_harmony", "rule_matches", "target_hues"]
