"""The colour model finds the same colours whatever the pattern, and is not fooled by studio backdrops or lighting."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from swatch.features.base import get_extractor
from swatch.features.color import ColorExtractor, dominant_palette

SIDE = 96
PALETTES = {
    "navy-cream": ((29, 39, 71), (239, 229, 204)),
    "red-yellow": ((190, 35, 45), (235, 200, 40)),
    "green-white": ((34, 90, 50), (245, 245, 240)),
    "plum-orange": ((90, 40, 80), (240, 128, 60)),
    "teal-pink": ((22, 110, 115), (226, 160, 175)),
}


def _masks(n: int = SIDE) -> dict[str, np.ndarray]:
    """Boolean motif masks of four unrelated drawings (True = motif colour)."""
    y, x = np.mgrid[0:n, 0:n]
    return {
        "stripes": (x // 8) % 3 == 0,
        "dots": ((x % 16 - 8) ** 2 + (y % 16 - 8) ** 2) < 20,
        "checks": ((x // 12 + y // 12) % 2) == 0,
        "diagonal": ((x + y) // 6) % 4 == 0,
    }


def _paint(mask: np.ndarray, ground: tuple[int, int, int], motif: tuple[int, int, int]) -> np.ndarray:
    return np.where(mask[..., None], np.array(motif, np.uint8), np.array(ground, np.uint8)).astype(np.uint8)


def _on_backdrop(design: np.ndarray, backdrop: tuple[int, int, int], canvas: int = 160) -> Image.Image:
    """The design centred on a plain studio backdrop that covers most of the picture."""
    out = np.empty((canvas, canvas, 3), np.uint8)
    out[:] = backdrop
    off = (canvas - design.shape[0]) // 2
    out[off:off + design.shape[0], off:off + design.shape[1]] = design
    return Image.fromarray(out)


def _nearest(ex: ColorExtractor, query: Image.Image, gallery: list[Image.Image]) -> int:
    rows = ex.extract([query, *gallery])
    return int(np.argmax(rows[1:] @ rows[0]))


def test_rows_are_unit_length_and_params_rebuild_the_extractor() -> None:
    ex = get_extractor("color")
    pics = [Image.fromarray(_paint(m, *PALETTES["navy-cream"])) for m in _masks().values()]
    rows = ex.extract(pics)
    assert rows.shape == (4, ex.dim) and rows.dtype == np.float32
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    assert ex.extract([]).shape == (0, ex.dim)
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in ex.params().items() if k != "space"}
    again = ColorExtractor(**params)
    assert np.allclose(again.extract(pics), rows)
    with pytest.raises(ValueError):
        ColorExtractor(bins=(5, 9))  # type: ignore[arg-type]


def test_same_colours_in_another_pattern_rank_first() -> None:
    """Every (pattern, palette) query finds the other pattern in its palette before its own pattern recoloured."""
    ex = ColorExtractor()
    masks = _masks()
    names = list(masks)
    images, keys = [], []
    for p, (ground, motif) in enumerate(PALETTES.values()):
        for m in (names[p % 4], names[(p + 1) % 4]):  # each palette in two patterns, each pattern in several palettes
            images.append(Image.fromarray(_paint(masks[m], ground, motif)))
            keys.append(p)
    rows = ex.extract(images)
    sims = rows @ rows.T
    np.fill_diagonal(sims, -np.inf)
    best = np.argmax(sims, axis=1)
    assert [keys[b] for b in best] == keys


@pytest.mark.parametrize("backdrop", [(255, 255, 255), (238, 238, 236), (150, 150, 152)])
def test_white_or_grey_studio_backdrop_is_ignored(backdrop: tuple[int, int, int]) -> None:
    """A design shot small on a backdrop matches its colours full-bleed, not another design on the same backdrop."""
    masks = _masks(64)
    query = _on_backdrop(_paint(masks["checks"], *PALETTES["navy-cream"]), backdrop)
    same_colours = Image.fromarray(_paint(_masks()["stripes"], *PALETTES["navy-cream"]))
    other_on_backdrop = _on_backdrop(_paint(masks["checks"], *PALETTES["plum-orange"]), backdrop)
    gallery = [other_on_backdrop, same_colours]
    assert _nearest(ColorExtractor(), query, gallery) == 1
    # the test can fail: counting the backdrop as colour makes the other design on the same backdrop win
    assert _nearest(ColorExtractor(background=False, centre_sigma=0.0), query, gallery) == 0


def test_mild_lighting_changes_keep_the_match() -> None:
    """Darker, brighter or warmer light on the same cloth still beats a neighbouring colour."""
    base = _paint(_masks()["dots"], *PALETTES["navy-cream"]).astype(np.float32)
    gallery = [Image.fromarray(_paint(_masks()["dots"], (60, 40, 90), (239, 229, 204))),  # purple ground
               Image.fromarray(_paint(_masks()["stripes"], *PALETTES["navy-cream"]))]
    ex = ColorExtractor()
    for gain in ((0.85, 0.85, 0.85), (1.1, 1.1, 1.1), (1.08, 1.0, 0.9)):
        lit = Image.fromarray(np.clip(base * np.array(gain, np.float32), 0, 255).astype(np.uint8))
        assert _nearest(ex, lit, gallery) == 1, gain


def test_dominant_palette_leaves_the_backdrop_out() -> None:
    img = _on_backdrop(_paint(_masks(64)["checks"], (29, 39, 71), (200, 60, 50)), (255, 255, 255))
    palette = dominant_palette(img, k=3)
    assert len(palette) == 3
    assert abs(sum(p["share"] for p in palette) - 1.0) < 0.01
    assert all(p["lab"][0] < 90 for p in palette[:2])  # neither main colour is the white backdrop
    rgb = [tuple(int(p["hex"][i:i + 2], 16) for i in (1, 3, 5)) for p in palette[:2]]
    assert any(max(abs(c - t) for c, t in zip(col, (29, 39, 71), strict=True)) < 30 for col in rgb)
