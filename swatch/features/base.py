"""Extractor base class and the registry of feature models (color, pattern, color+pattern)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

MODEL_NAMES = ("color", "pattern", "color+pattern")


class Extractor(ABC):
    """Turns a batch of decoded RGB images into L2-normalised float32 rows."""

    name: str = ""
    dim: int = 0
    #: JPEG decoding may stop at this side (draft mode); the extractor resizes further itself
    decode_side: int = 256

    @abstractmethod
    def extract(self, images: list[Image.Image]) -> np.ndarray:
        """(len(images), dim) float32, each row of unit length."""

    def params(self) -> dict[str, Any]:
        """Parameters that define this extractor's output, stored in the version's info.json."""
        return {}

    def weights_hash(self) -> str | None:
        return None


_REGISTRY: dict[str, Callable[..., Extractor]] = {}


def register(name: str) -> Callable[[Callable[..., Extractor]], Callable[..., Extractor]]:
    def deco(factory: Callable[..., Extractor]) -> Callable[..., Extractor]:
        _REGISTRY[name] = factory
        return factory

    return deco


def get_extractor(name: str, **kwargs: Any) -> Extractor:
    """A new extractor by model name; ValueError naming the known ones otherwise."""
    import swatch.features.color
    import swatch.features.pattern  # noqa: F401  (registration side effects)

    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**kwargs)


def known_extractors() -> list[str]:
    import swatch.features.color
    import swatch.features.pattern  # noqa: F401

    return sorted(_REGISTRY)


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
