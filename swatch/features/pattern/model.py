"""Pattern model: colourway-blind EfficientNet-Lite embedding, multi-layer pooled, view-averaged and centred."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from swatch.features.backbone_spec import HEAD, Layer, layer_widths, parse_layers, weights_path, weights_sha256
from swatch.features.base import Extractor, l2_normalise
from swatch.features.pattern.centre import centre_vector
from swatch.features.pattern.views import View, view_arrays

if TYPE_CHECKING:
    from swatch.features.pattern.pooling import LayerPool

#: what runs the network: ONNX Runtime (the default, measured fastest on CPU: bench/throughput.py) or PyTorch
RUNTIMES = ("onnxruntime", "torch")


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
        runtime: str = "onnxruntime",
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
        self.threads = int(threads)
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
        self.runtime = runtime
        weights_path(backbone)  # BackboneError now for an unknown backbone or a missing weights package
        # the widths are known without the network: describing an extractor (ingest comparing a stored
        # version's settings) never imports torch; the backbone loads on the first extraction
        self.layer_dims = layer_widths(backbone, self.layers)
        self.dim = sum(self.layer_dims)
        self._pool: LayerPool | None = None
        self._engine: Callable[[np.ndarray], list[np.ndarray]] | None = None
        self._centre: np.ndarray | None = None
        self._load_lock = threading.Lock()

    @property
    def pool(self) -> LayerPool:
        """The PyTorch backbone cut at the wanted layers, loaded on first use (the reference the exported
        graph is checked against, and the runtime with runtime="torch")."""
        if self._pool is None:
            with self._load_lock:
                if self._pool is None:
                    import torch

                    from swatch.features.pattern.pooling import LayerPool

                    if self.threads:
                        torch.set_num_threads(self.threads)
                    self._pool = LayerPool(self.backbone_name, self.layers, self.gem_p)
        return self._pool

    @property
    def engine(self) -> Callable[[np.ndarray], list[np.ndarray]]:
        """(N, 3, H, W) float32 -> per layer (N, C) pooled unit rows: ONNX Runtime (exported from the backbone
        at first use, runtime.py) or PyTorch; loaded once, whichever thread asks first."""
        if self._engine is None:
            if self.runtime == "torch":
                pool = self.pool

                def run(x: np.ndarray) -> list[np.ndarray]:
                    import torch

                    with torch.inference_mode():
                        return [t.numpy() for t in pool(torch.from_numpy(x))]

                self._engine = run
            else:
                with self._load_lock:
                    if self._engine is None:
                        from swatch.features.pattern.runtime import OnnxPool

                        self._engine = OnnxPool(self.backbone_name, self.layers, self.gem_p, self.threads)
        return self._engine

    @property
    def _mean(self) -> np.ndarray:
        """The fixed centre of the rows (shipped for the default settings, else computed once)."""
        if self._centre is None:
            self._centre = centre_vector(self) if self.centre else np.zeros(self.dim, np.float32)
        return self._centre

    def layer_rows(self, images: list[Image.Image]) -> np.ndarray:
        """Rows before centring: per layer, the views' pooled vectors summed and renormalised; concatenated."""
        engine = self.engine
        arrays = view_arrays([np.asarray(img, dtype=np.uint8) for img in images], self.trim)
        total: list[np.ndarray] | None = None
        for view in self._views:
            step = view.chunk()
            chunks = [engine(view.pixels(arrays[i:i + step])) for i in range(0, len(arrays), step)]
            parts = [np.concatenate(layer) for layer in zip(*chunks, strict=True)]
            total = parts if total is None else [t + p for t, p in zip(total, parts, strict=True)]
        assert total is not None
        return np.concatenate([l2_normalise(t) for t in total], axis=1)

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
