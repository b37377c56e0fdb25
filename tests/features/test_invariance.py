"""The pattern model sees the drawing, not the colourway: recoloured, turned, mirrored, cropped copies rank first."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from swatch.features.base import get_extractor
from swatch.features.pattern.centre import CENTRES_DIR, centre_key
from swatch.features.pattern.model import PatternExtractor
from swatch.features.pattern.views import trim_backdrop

SIDE = 128


def _drawings(n: int = SIDE) -> dict[str, np.ndarray]:
    """Float masks in 0..1 of twelve textile drawings (some of one family at another scale)."""
    y, x = np.mgrid[0:n, 0:n].astype(np.float32)
    rng = np.random.default_rng(4)
    coarse = cv2.GaussianBlur(rng.normal(size=(n, n)).astype(np.float32), (0, 0), 5)
    fine = cv2.GaussianBlur(rng.normal(size=(n, n)).astype(np.float32), (0, 0), 2.5)
    masks = {
        "stripes": (x // 9) % 2 == 1,
        "wide-stripes": (x // 16) % 3 == 0,
        "checks": ((x // 16) + (y // 16)) % 2 == 1,
        "small-checks": ((x // 7) + (y // 7)) % 2 == 1,
        "dots": ((x % 20) - 10) ** 2 + ((y % 20) - 10) ** 2 < 30,
        "big-dots": ((x % 32) - 16) ** 2 + ((y % 32) - 16) ** 2 < 90,
        "zigzag": ((y + 6 * np.abs((x % 24) / 6 - 2)) // 7) % 2 == 1,
        "diamonds": np.abs(x % 32 - 16) + 0.6 * np.abs(y % 52 - 26) < 11,
        "rings": np.sin(np.hypot(x - n / 2, y - n / 2) / 3.0) > 0,
        "plaid": (x % 40 < 6) | (y % 40 < 6) | ((x + 20) % 40 < 2),
        "blobs": coarse > 0.05,
        "spots": fine > 0.15,
    }
    return {k: v.astype(np.float32) for k, v in masks.items()}


def _colour(mask: np.ndarray, ground: tuple[int, int, int], motif: tuple[int, int, int], seed: int) -> np.ndarray:
    """Paint a mask in two colours over a faint cloth grain."""
    grain = np.random.default_rng(seed).normal(0, 4, mask.shape + (1,)).astype(np.float32)
    rgb = mask[..., None] * np.array(motif, np.float32) + (1 - mask[..., None]) * np.array(ground, np.float32)
    return np.clip(rgb + grain, 0, 255).astype(np.uint8)


COLOURWAY_A = ((30, 40, 75), (235, 225, 200))  # navy ground, cream motif
COLOURWAY_B = ((140, 30, 40), (240, 200, 60))  # red ground, gold motif
COLOURWAY_C = ((20, 90, 60), (250, 170, 190))  # green ground, pink motif


def _moved(arr: np.ndarray) -> np.ndarray:
    """Turned 90 degrees, mirrored, cropped to 80 %, scaled up and JPEG re-compressed."""
    out = np.rot90(arr)[:, ::-1]
    h, w = out.shape[:2]
    out = np.ascontiguousarray(out[h // 10: h - h // 10, w // 10: w - w // 10])
    out = cv2.resize(out, (150, 150), interpolation=cv2.INTER_LINEAR)
    buf = io.BytesIO()
    Image.fromarray(out).save(buf, format="JPEG", quality=70)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


@pytest.fixture(scope="module")
def pattern() -> PatternExtractor:
    ex = get_extractor("pattern")
    assert isinstance(ex, PatternExtractor)
    return ex


def _top1(rows: np.ndarray, queries: int) -> list[int]:
    """Index of each of the first `queries` rows' nearest other row."""
    sims = rows[:queries] @ rows.T
    sims[np.arange(queries), np.arange(queries)] = -np.inf
    return [int(i) for i in np.argmax(sims, axis=1)]


def _colourway_pairs(colourway: tuple[tuple[int, int, int], tuple[int, int, int]], move: bool
                     ) -> list[Image.Image]:
    """Every drawing in colourway A, then every drawing in `colourway` (moved when asked)."""
    drawings = list(_drawings().values())
    first = [Image.fromarray(_colour(m, *COLOURWAY_A, seed=i)) for i, m in enumerate(drawings)]
    second = [_colour(m, *colourway, seed=100 + i) for i, m in enumerate(drawings)]
    return first + [Image.fromarray(_moved(a) if move else a) for a in second]


def test_same_pattern_in_another_colourway_ranks_first(pattern: PatternExtractor) -> None:
    """Queries in colourway A; the gallery holds every drawing in A (same colours) and in B (same drawing)."""
    images = _colourway_pairs(COLOURWAY_B, move=False)
    n = len(images) // 2
    assert _top1(pattern.extract(images), n) == [n + i for i in range(n)]
    # the set-up does tempt a colour-led model: the colour model ranks same-colour drawings first
    assert sum(a == n + i for i, a in enumerate(_top1(get_extractor("color").extract(images), n))) < n // 2


def test_recoloured_turned_mirrored_cropped_copy_ranks_first(pattern: PatternExtractor) -> None:
    images = _colourway_pairs(COLOURWAY_C, move=True)
    n = len(images) // 2
    assert _top1(pattern.extract(images), n) == [n + i for i in range(n)]
    # and it is not a given: the plain approach (colour input, head only, no turned view) misses some
    plain = get_extractor("pattern", layers=("head",), views=("rgb",), trim=False, centre=False)
    assert _top1(plain.extract(images), n) != [n + i for i in range(n)]


def test_colour_on_its_own_does_not_match_patterns(pattern: PatternExtractor) -> None:
    """The same colours in another drawing score clearly below the same drawing in other colours."""
    masks = _drawings()
    query = pattern.extract([Image.fromarray(_colour(masks["checks"], *COLOURWAY_A, seed=1))])[0]
    same_drawing = pattern.extract([Image.fromarray(_colour(masks["checks"], *COLOURWAY_B, seed=2))])[0]
    same_colours = pattern.extract([Image.fromarray(_colour(masks["rings"], *COLOURWAY_A, seed=3))])[0]
    assert float(query @ same_drawing) > float(query @ same_colours) + 0.2


def test_rows_params_and_views(pattern: PatternExtractor) -> None:
    pics = [Image.fromarray(_colour(m, *COLOURWAY_A, seed=0)) for m in list(_drawings().values())[:3]]
    rows = pattern.extract(pics)
    assert rows.shape == (3, pattern.dim) and rows.dtype == np.float32
    assert pattern.dim == sum(pattern.layer_dims)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    assert pattern.extract([]).shape == (0, pattern.dim)
    # a version's stored params rebuild the same extractor (lists and digit strings come back as info.json has them)
    params = pattern.params()
    again = get_extractor("pattern", **{k: tuple(v) if isinstance(v, list) else v for k, v in params.items()})
    assert np.allclose(again.extract(pics), rows, atol=1e-5)
    with pytest.raises(ValueError, match="bad view"):
        PatternExtractor(views=("sepia/rot45",), centre=False)


def test_default_centre_ships_with_the_package(pattern: PatternExtractor) -> None:
    """The default settings never have to rebuild their centre from the demo catalogue at run time."""
    path = CENTRES_DIR / f"pattern-{centre_key(pattern)}.npy"
    assert path.is_file() and path.with_suffix(".json").is_file()
    mean = np.load(path)
    assert mean.shape == (pattern.dim,) and np.isfinite(mean).all()


def test_trim_backdrop_crops_a_studio_border_only() -> None:
    design = _colour(_drawings(64)["checks"], *COLOURWAY_A, seed=5)
    framed = np.full((160, 120, 3), 250, np.uint8)
    framed[40:104, 30:94] = design
    cut = trim_backdrop(framed)
    assert 64 <= cut.shape[0] <= 64 + 2 * 5 and 64 <= cut.shape[1] <= 64 + 2 * 4
    for ground, motif in (COLOURWAY_B, ((250, 250, 250), (20, 20, 20))):  # a coloured and a black-and-white design
        full_bleed = _colour(_drawings()["stripes"], ground, motif, seed=6)
        assert trim_backdrop(full_bleed).shape == full_bleed.shape


@pytest.mark.slow
@pytest.mark.parametrize("name", ["efficientnet_lite1", "efficientnet_lite2"])
def test_larger_offline_backbones_classify_like_lite0(name: str, demo_images: Path) -> None:
    """Lite1 and Lite2 load from their packages and see the same ImageNet classes as Lite0 (a random net does not)."""
    import timm
    import torch

    from swatch.features.backbone import load_backbone

    files = sorted(demo_images.glob("*.jpg"))

    def probs(model: torch.nn.Module, side: int) -> torch.Tensor:
        arrs = [np.asarray(Image.open(f).convert("RGB").resize((side, side)), np.float32) for f in files]
        x = torch.from_numpy(np.stack(arrs) / 127.5 - 1.0).permute(0, 3, 1, 2).float()
        with torch.inference_mode():
            return model(x).softmax(dim=1)

    top5 = probs(load_backbone("efficientnet_lite0"), 224).topk(5, dim=1).indices
    side = {"efficientnet_lite1": 240, "efficientnet_lite2": 260}[name]

    def agreement(p: torch.Tensor) -> float:
        return float(np.mean([int(t) in row for t, row in zip(p.argmax(dim=1), top5.tolist(), strict=True)]))

    torch.manual_seed(0)
    trained = agreement(probs(load_backbone(name), side))
    random = agreement(probs(timm.create_model(name).eval(), side))
    assert trained >= 0.4 and random <= 0.1, (trained, random)  # measured: lite1 0.64, lite2 0.56; random 0.0
