"""Pattern model: colourway-blind EfficientNet-Lite embedding, multi-layer pooled, view-averaged and centred."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image

from swatch.features.backbone import weights_sha256
from swatch.features.base import Extractor, l2_normalise
from swatch.features.pattern.centre import centre_vector
from swatch.features.pattern.pooling import HEAD, Layer, LayerPool, parse_layers
from swatch.features.pattern.views import View, view_arrays


class PatternExtractor(Extractor):
    """Average-pooled stage outputs of an ImageNet EfficientNet-Lite, summed over test-time views, each layer
    L2-normalised and centred on a fixed mean (of the procedural demo catalogue), then concatenated.

    Default: backdrop trimmed, middle square; one view in colour at 224 px and one grey, contrast-equalised and
    turned 90 degrees at 160 px, so colourways, turns and mirror images come out alike; stages 3-6 and the head.
    """

    name = "pattern"

    def __init__(
        self,
        backbone: str = "efficientnet_lite0",
        size: int = 224,
        layers: tuple[Layer, ...] = (3, 4, 5, 6, HEAD),
        gem_p: float = 1.0,
        views: tuple[str, ...] = ("rgb/crop", "grey-eq/crop/rot90@160"),
        trim: bool = True,
        centre: bool = True,
        threads: int = 0,
    ):
        self.backbone_name = backbone
        self.size = int(size)
        self.gem_p = float(gem_p)
        self.views = tuple(str(v) for v in views)
        self.trim = bool(trim)
        self.centre = bool(centre)
        if not self.views:
            raise ValueError("at least one view is needed")
        self._views = [View.parse(v, self.size) for v in self.views]
        self.layers = parse_layers(tuple(layers))
        self.decode_side = max(v.side for v in self._views)
        if threads:
            torch.set_num_threads(threads)
        self.pool = LayerPool(backbone, self.layers, self.gem_p)
        self.layer_dims = self.pool.layer_dims
        self.dim = sum(self.layer_dims)
        self._mean = centre_vector(self) if self.centre else np.zeros(self.dim, np.float32)

    def layer_rows(self, images: list[Image.Image]) -> np.ndarray:
        """Rows before centring: per layer, the views' pooled vectors summed and renormalised; concatenated."""
        arrays = view_arrays([np.asarray(img, dtype=np.uint8) for img in images], self.trim)
        total: list[torch.Tensor] | None = None
        with torch.inference_mode():
            for view in self._views:
                step = view.chunk()
                chunks = [self.pool(view.batch(arrays[i:i + step])) for i in range(0, len(arrays), step)]
                parts = [torch.cat(layer) for layer in zip(*chunks, strict=True)]
                total = parts if total is None else [t + p for t, p in zip(total, parts, strict=True)]
            assert total is not None
            return torch.cat([torch.nn.functional.normalize(t, dim=1) for t in total], dim=1).numpy()

    def _extract(self, images: list[Image.Image]) -> np.ndarray:
        """Each layer block centred on the fixed mean and renormalised (the base class normalises the row)."""
        rows = self.layer_rows(images)
        out = np.empty(rows.shape, dtype=np.float32)
        start = 0
        for d in self.layer_dims:
            out[:, start:start + d] = l2_normalise(rows[:, start:start + d] - self._mean[start:start + d])
            start += d
        return out

    def params(self) -> dict[str, Any]:
        return {
            "backbone": self.backbone_name, "size": self.size, "layers": [str(x) for x in self.layers],
            "gem_p": self.gem_p, "views": list(self.views), "trim": self.trim, "centre": self.centre,
        }

    def weights_hash(self) -> str | None:
        return weights_sha256(self.backbone_name)
