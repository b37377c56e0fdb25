"""Extractor base class, the registry of feature models, and the row algebra of color+pattern."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, final

import numpy as np
from PIL import Image

MODEL_NAMES = ("color", "pattern", "color+pattern")
#: the model derived from the stored color and pattern rows rather than extracted from pixels
COMBINED = "color+pattern"


class Extractor(ABC):
    """Turns a batch of decoded RGB images into L2-normalised float32 rows.

    `extract()` is the one public entry: it checks the input, calls the subclass's `_extract()` hook once,
    checks the (len(images), dim) float32 shape of what comes back and normalises each row to unit length.
    """

    name: str = ""
    dim: int = 0
    #: JPEG decoding may stop at this side (draft mode); the extractor resizes further itself
    decode_side: int = 256

    @final
    def extract(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(len(images), dim) float32, each row of unit length."""
        images = list(images)
        for k, img in enumerate(images):
            if not isinstance(img, Image.Image) or img.mode != "RGB":
                got = f"mode {img.mode!r}" if isinstance(img, Image.Image) else type(img).__name__
                raise ValueError(f"{self.name or type(self).__name__} extractor: image {k} is {got}, not an RGB image")
        if not images:
            return np.zeros((0, self.dim), np.float32)
        rows = self._extract(images)
        if not isinstance(rows, np.ndarray) or rows.shape != (len(images), self.dim) or rows.dtype != np.float32:
            shape = getattr(rows, "shape", None)
            raise RuntimeError(f"{self.name or type(self).__name__} extractor returned {shape} "
                               f"{getattr(rows, 'dtype', type(rows).__name__)}, "
                               f"expected ({len(images)}, {self.dim}) float32")
        return l2_normalise(rows)

    @abstractmethod
    def _extract(self, images: list[Image.Image]) -> np.ndarray:
        """(len(images), dim) float32 rows, not yet normalised; called with at least one RGB image."""

    def params(self) -> dict[str, Any]:
        """Parameters that define this extractor's output, stored in the version's info.json."""
        return {}

    def weights_hash(self) -> str | None:
        return None


def _extractor_classes() -> dict[str, type[Extractor]]:
    """Model name -> extractor class (imported on first use: the pattern model loads torch)."""
    from swatch.features.color import ColorExtractor
    from swatch.features.pattern.model import PatternExtractor

    return {"color": ColorExtractor, "pattern": PatternExtractor}


def get_extractor(name: str, **kwargs: Any) -> Extractor:
    """A new extractor by model name; ValueError naming the model and the known ones otherwise."""
    classes = _extractor_classes()
    if name == COMBINED:
        raise ValueError(f"model {name!r} has no extractor of its own: its rows combine the color and pattern "
                         f"rows; choose from {', '.join(sorted(classes))}")
    if name not in classes:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(sorted(classes))}")
    return classes[name](**kwargs)


def extractor_from_params(name: str, params: Mapping[str, Any]) -> Extractor:
    """The extractor a feature version's stored `params` describe (lists back to tuples, "4" back to 4).

    Descriptive keys that are not constructor arguments (e.g. colour's "space") are left out.
    """
    import inspect

    cls = _extractor_classes().get(name)
    kwargs: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, list):
            value = tuple(int(v) if isinstance(v, str) and v.isdigit() else v for v in value)
        kwargs[key] = value
    if cls is not None:
        accepted = set(inspect.signature(cls).parameters)
        kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    return get_extractor(name, **kwargs)


def l2_normalise(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, eps)).astype(np.float32)


def combine_color_pattern(color: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    """Stored color+pattern rows: [c, p] / sqrt(2), unit length when c and p are.

    A query [w c_q, (1 - w) p_q] * sqrt(2) then scores w cos_c + (1 - w) cos_p by inner product.
    """
    return (np.hstack([color, pattern]) / np.sqrt(2.0)).astype(np.float32)


def combined_query(color: np.ndarray, pattern: np.ndarray, weight: float) -> np.ndarray:
    """Query rows whose inner product with stored rows is weight * cos_color + (1 - weight) * cos_pattern."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError("weight must be between 0 and 1")
    return (np.hstack([weight * color, (1.0 - weight) * pattern]) * np.sqrt(2.0)).astype(np.float32)
