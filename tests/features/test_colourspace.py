"""Colour space: hex to CIELAB as the colour model converts pixels, LCh hue angles, and the palette row that
equals the colour model's row of an image made of exactly those colours."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from swatch.features.color import ColorExtractor, image_lab
from swatch.features.colourspace import (
    hex_to_lab,
    hex_to_rgb,
    lab_to_hex,
    lab_to_lch,
    lch_of_hex,
    palette_descriptor,
)


def flat(hex_: str, size: int = 96) -> Image.Image:
    return Image.new("RGB", (size, size), hex_to_rgb(hex_))


@pytest.mark.parametrize("hex_", ["#b03a2e", "#1f2a44", "#f0e8d8", "#808080", "#000000", "#ffffff"])
def test_hex_to_lab_is_the_conversion_of_the_colour_model(hex_: str) -> None:
    lab = hex_to_lab([hex_])[0]
    assert np.allclose(lab, image_lab(flat(hex_), 8).mean(axis=0), atol=0.05)
    assert lab_to_hex(lab[None, :]) == [hex_]


def test_lch_hue_is_an_angle_and_greys_have_no_chroma() -> None:
    red, green, blue, grey = (lch_of_hex(x) for x in ("#ff0000", "#00ff00", "#0000ff", "#7f7f7f"))
    assert 20 < red.h < 60 and 120 < green.h < 150 and 290 < blue.h < 320
    assert grey.achromatic and not red.achromatic and grey.C < 1
    lch = lab_to_lch(np.array([[50.0, 10.0, -0.001], [50.0, -10.0, 0.0]]))
    assert lch[0, 2] == pytest.approx(360.0, abs=0.01) or lch[0, 2] == pytest.approx(0.0, abs=0.01)
    assert 0.0 <= lch[0, 2] < 360.0 and lch[1, 2] == pytest.approx(180.0)


@pytest.mark.parametrize("hex_", ["#b03a2e", "#2e6fb0", "#f0e8d8"])
def test_a_single_picked_colour_is_the_row_of_a_plain_image_of_it(hex_: str) -> None:
    ex = ColorExtractor()
    row = palette_descriptor(ex, hex_to_lab([hex_]), np.array([1.0]))
    assert row.shape == (ex.dim,) and row.dtype == np.float32
    assert float(row @ ex.extract([flat(hex_)])[0]) > 0.9999


def test_picked_colours_with_shares_are_the_row_of_an_image_split_in_those_shares() -> None:
    """Half navy, half cream (left and right: the centre prior weighs both halves alike)."""
    ex = ColorExtractor()
    arr = np.zeros((96, 96, 3), np.uint8)
    arr[:, :48] = hex_to_rgb("#1f2a44")
    arr[:, 48:] = hex_to_rgb("#c98b2e")
    image_row = ex.extract([Image.fromarray(arr)])[0]
    picked = palette_descriptor(ex, hex_to_lab(["#1f2a44", "#c98b2e"]), np.array([0.5, 0.5]))
    assert float(picked @ image_row) > 0.999
    lopsided = palette_descriptor(ex, hex_to_lab(["#1f2a44", "#c98b2e"]), np.array([0.9, 0.1]))
    assert float(lopsided @ image_row) < float(picked @ image_row) - 0.02
