"""Harmony rules on generated palettes with known hue relations: each rule finds what it should and nothing it
should not, across the 0/360 degree seam and for greys; the scan is the one the API runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from swatch.catalog.snapshot import MetadataTable
from swatch.features.colourspace import LCh, hue_distance, lab_to_hex
from swatch.search.errors import SearchError
from swatch.search.harmony import HUE_TOLERANCE, MIN_SHARE, RULES, PaletteArrays, parse_hex, scan


def colour(h: float, share: float, L: float = 60.0, C: float = 40.0) -> dict[str, object]:
    """A stored-palette entry (as ingest writes it) of the LCh colour (L, C, h)."""
    lab = [L, C * math.cos(math.radians(h)), C * math.sin(math.radians(h))]
    return {"hex": lab_to_hex(np.array([lab]))[0], "share": share, "lab": [round(v, 1) for v in lab]}


def grey(L: float, share: float) -> dict[str, object]:
    return {"hex": lab_to_hex(np.array([[L, 1.0, -1.0]]))[0], "share": share, "lab": [L, 1.0, -1.0]}


#: design name -> palette, around a base hue of 350 degrees (so the rules' targets cross 0/360)
BASE = LCh(55.0, 45.0, 350.0)
PALETTES: dict[str, list[dict[str, object]]] = {
    "complement": [colour(170, 0.7), grey(90, 0.3)],            # 350 + 180 = 530 -> 170
    "complement-near-edge": [colour(170 + 13, 0.6), grey(20, 0.4)],
    "analogous-across-seam": [colour(20, 0.8), colour(200, 0.2, C=5)],  # 350 + 30 -> 20; the second is grey
    "analogous-below": [colour(322, 1.0)],
    "triad": [colour(110, 0.5), colour(230, 0.5)],
    "split": [colour(140, 0.5), colour(200, 0.5)],
    "mono-lighter": [colour(355, 0.6, L=80), colour(345, 0.4, L=75, C=20)],
    "mono-darker": [colour(3, 1.0, L=30)],                      # 3 degrees is 13 from 350, across the seam
    "greys": [grey(20, 0.5), grey(50, 0.3), grey(95, 0.2)],
    "tiny-complement-speck": [colour(60, 0.95), colour(170, 0.05)],
    "unrelated": [colour(60, 0.5), colour(80, 0.5)],
    "no-palette": [],
}
EXPECTED = {
    "complementary": {"complement", "complement-near-edge"},
    "analogous": {"analogous-across-seam", "analogous-below"},
    "triadic": {"triad"},
    "split-complementary": {"split"},
    "monochromatic": {"mono-lighter", "mono-darker"},
    "tints": {"mono-lighter"},
    "shades": {"mono-darker"},
    "neutral": {"greys", "complement", "complement-near-edge", "analogous-across-seam"},
}


def arrays_of(palettes: dict[str, list[dict[str, object]]]) -> tuple[PaletteArrays, list[str]]:
    """PaletteArrays over a real MetadataTable of one live image per design (ids 1..n)."""
    names = list(palettes)
    rows = [(i + 1, f"{name}.jpg", f"{name}.jpg", None, 64, 64, name, "1", None, None, "[]", None)
            for i, name in enumerate(names)]
    table = MetadataTable.from_rows(rows, generation=1)
    stored = [(i + 1, palettes[name]) for i, name in enumerate(names) if palettes[name]]
    return PaletteArrays.build(table, stored, key=(1, len(stored))), names


def found(rule: str, base: LCh = BASE, allowed: np.ndarray | None = None) -> list[str]:
    arrays, names = arrays_of(PALETTES)
    return [names[i] for i in scan(arrays, RULES[rule], base, allowed).order.tolist()]


@pytest.mark.parametrize("rule", list(EXPECTED))
def test_each_rule_finds_what_it_should_and_nothing_it_should_not(rule: str) -> None:
    assert set(found(rule)) == EXPECTED[rule]


def test_the_hue_circle_wraps_at_360() -> None:
    assert hue_distance(350.0, 10.0) == pytest.approx(20.0)
    assert hue_distance(10.0, 350.0) == pytest.approx(20.0)
    assert hue_distance(0.0, 180.0) == pytest.approx(180.0)
    assert hue_distance(359.5, 0.5) == pytest.approx(1.0)
    # the same rule with the base on the other side of the seam finds the same designs
    assert set(found("monochromatic", LCh(55.0, 45.0, 0.0))) == {"mono-lighter", "mono-darker"}
    # 178 + 180 = 358: 355 and 345 below the seam, 3 above it
    assert set(found("complementary", LCh(55.0, 45.0, 178.0))) == {"mono-lighter", "mono-darker"}
    assert set(found("complementary", LCh(55.0, 45.0, 140.0))) == {"analogous-below"}  # 320: only 322


def test_greys_never_match_a_hue_rule_and_a_grey_base_has_none() -> None:
    arrays, names = arrays_of(PALETTES)
    for rule in ("complementary", "analogous", "triadic", "split-complementary", "monochromatic"):
        result = scan(arrays, RULES[rule], BASE)
        assert "greys" not in {names[i] for i in result.order}
        assert not result.matched[names.index("greys")].any()
    grey_base = LCh(50.0, 3.0, 200.0)
    for rule in ("complementary", "analogous", "triadic", "split-complementary"):
        with pytest.raises(SearchError, match="a grey has no hue"):
            scan(arrays, RULES[rule], grey_base)
    # a grey's monochromatic family is the greys (and the greys inside mixed palettes), never a hue
    mono = {names[i] for i in scan(arrays, RULES["monochromatic"], grey_base).order}
    assert mono == {"greys", "complement", "complement-near-edge", "analogous-across-seam"}
    tints = {"greys", "complement", "analogous-across-seam"}  # L* 95, 90 and 60 against the base's 50
    assert {names[i] for i in scan(arrays, RULES["tints"], grey_base).order} == tints
    assert {names[i] for i in scan(arrays, RULES["shades"], grey_base).order} == {"greys", "complement-near-edge"}


def test_scores_are_the_matched_share_weighted_by_closeness() -> None:
    arrays, names = arrays_of(PALETTES)
    result = scan(arrays, RULES["complementary"], BASE)
    on_target, near_edge = names.index("complement"), names.index("complement-near-edge")
    assert result.share[on_target] == pytest.approx(0.7) and result.score[on_target] == pytest.approx(0.7, abs=0.01)
    assert result.share[near_edge] == pytest.approx(0.6)
    assert result.score[near_edge] == pytest.approx(0.6 * (1 - 0.5 * 13 / HUE_TOLERANCE), abs=0.01)
    assert [names[i] for i in result.order] == ["complement", "complement-near-edge"]
    speck = names.index("tiny-complement-speck")
    assert 0 < result.share[speck] < MIN_SHARE and speck not in result.order


def test_allowed_rows_filter_the_scan() -> None:
    arrays, names = arrays_of(PALETTES)
    allowed = np.ones(len(names), bool)
    allowed[names.index("complement")] = False
    assert [names[i] for i in scan(arrays, RULES["complementary"], BASE, allowed).order] == ["complement-near-edge"]


@pytest.mark.parametrize("value", ["#12345", "#1234567", "123456", "#12345g", "#ＡＢＣＤＥＦ", "#12345\n", "", None,
                                   123456, ["#123456"]])
def test_a_hex_colour_is_hash_and_six_hex_digits(value: object) -> None:
    with pytest.raises(SearchError, match="#rrggbb"):
        parse_hex(value, "color")
    assert parse_hex("#A0b1C2", "color") == "#a0b1c2"
