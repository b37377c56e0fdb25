"""The Extractor contract: one final extract() that checks and normalises, the registry, derived kinds, centres."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from swatch.features.base import Extractor, extractor_from_params, get_extractor
from swatch.features.pattern import centre
from swatch.features.store import FeatureStoreError
from swatch.features.versions import register_transform, transform_rows


class Raw(Extractor):
    """Returns mean RGB times a factor, unnormalised (or a wrong shape / dtype on request)."""

    name = "raw"
    dim = 3

    def __init__(self, bad: str = "") -> None:
        self.bad = bad
        self.calls = 0

    def _extract(self, images: list[Image.Image]) -> np.ndarray:
        self.calls += 1
        rows = np.stack([np.asarray(im, np.float32).mean(axis=(0, 1)) * 7 for im in images]).astype(np.float32)
        if self.bad == "dtype":
            return rows.astype(np.float64)
        if self.bad == "shape":
            return rows[:, :2]
        return rows


def _pics(n: int = 3) -> list[Image.Image]:
    return [Image.new("RGB", (8, 8), (40 * k + 10, 20, 200 - 30 * k)) for k in range(n)]


def test_extract_normalises_once_and_checks_the_hook() -> None:
    ex = Raw()
    rows = ex.extract(_pics())
    assert rows.shape == (3, 3) and rows.dtype == np.float32 and ex.calls == 1
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-6)
    raw = np.stack([np.asarray(p, np.float32).mean(axis=(0, 1)) for p in _pics()])
    assert np.allclose(rows, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-6)
    assert ex.extract([]).shape == (0, 3) and ex.calls == 1  # the hook never sees an empty batch
    for bad in ("dtype", "shape"):
        with pytest.raises(RuntimeError, match=r"raw extractor returned .* expected \(3, 3\) float32"):
            Raw(bad).extract(_pics())
    with pytest.raises(ValueError, match="image 1 is mode 'L', not an RGB image"):
        Raw().extract([_pics(1)[0], Image.new("L", (8, 8))])
    assert getattr(Extractor.extract, "__final__", False)  # subclasses implement _extract only


def test_registry_names_the_unknown_model_and_the_combination() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'texture'; choose from color, pattern"):
        get_extractor("texture")
    with pytest.raises(ValueError, match=r"'color\+pattern' has no extractor of its own"):
        get_extractor("color+pattern")


def test_stored_params_rebuild_the_same_extractor() -> None:
    ex = get_extractor("color", bins=(4, 6, 6), background=False)
    stored: dict[str, Any] = ex.params()  # as info.json holds them: lists, plus the descriptive "space"
    again = extractor_from_params("color", stored)
    assert again.params() == stored
    assert again.extract(_pics()).tobytes() == ex.extract(_pics()).tobytes()


def test_derived_kinds_need_a_registered_transform() -> None:
    rows = np.eye(3, dtype=np.float32)
    assert transform_rows("pattern", {"kind": "synthetic"}, rows).tobytes() == rows.tobytes()
    with pytest.raises(FeatureStoreError, match="no transform is registered for 'w4-test-kind'"):
        transform_rows("pattern", {"kind": "w4-test-kind", "base_version": "v1"}, rows)
    register_transform("w4-test-kind", lambda info, base: base * 3)
    out = transform_rows("pattern", {"kind": "w4-test-kind", "base_version": "v1"}, rows)
    assert np.allclose(out, rows)  # transformed, then unit length again


class _FakePattern:
    """What a centre needs of an extractor: params, weights, dim, size and uncentred rows."""

    dim = 3
    size = 32

    def params(self) -> dict[str, Any]:
        return {"fake": True}

    def weights_hash(self) -> str | None:
        return None

    def layer_rows(self, images: list[Image.Image]) -> np.ndarray:
        return np.stack([np.asarray(im, np.float32).mean(axis=(0, 1)) for im in images])


def test_centre_comes_from_the_registered_reference_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(centre, "_SOURCE", [])
    with pytest.raises(ValueError, match="no reference catalogue registered"):
        centre.compute_centre(_FakePattern())

    def source(folder: Path, designs: int, colourways: int, size: int, seed: int) -> None:
        assert (designs, colourways, seed) == (centre.CENTRE_DESIGNS, centre.CENTRE_COLOURWAYS, centre.CENTRE_SEED)
        for k, grey in enumerate((0, 90, 180)):
            Image.new("RGB", (size, size), (grey, grey, grey)).save(folder / f"{k}.jpg", quality=100)

    centre.register_centre_source(source)
    assert np.allclose(centre.compute_centre(_FakePattern()), 90.0, atol=1.0)


def test_the_demo_catalogue_registers_itself() -> None:
    import swatch.demo  # noqa: F401

    assert centre._SOURCE and centre._SOURCE[0].func.__name__ == "generate_demo_catalogue"  # type: ignore[attr-defined]
