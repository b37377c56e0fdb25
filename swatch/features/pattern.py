"""Pattern model: colour-blind EfficientNet-Lite embedding with multi-layer GeM pooling and flip averaging."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image

from swatch.features.backbone import load_backbone, weights_sha256
from swatch.features.base import Extractor, l2_normalise, register

HEAD = "head"  # the 1280-channel conv head; integers name stages of model.blocks


def gem(x: torch.Tensor, p: float = 3.0, eps: float = 1e-6) -> torch.Tensor:
    """Generalised-mean pooling over H, W: (N, C, H, W) -> (N, C)."""
    return x.clamp(min=eps).pow(p).mean(dim=(2, 3)).pow(1.0 / p)


class PatternExtractor(Extractor):
    """Grey-level input (so colourways look alike), GeM-pooled stage outputs, L2 per layer, concatenated."""

    name = "pattern"

    def __init__(
        self,
        backbone: str = "efficientnet_lite0",
        size: int = 224,
        layers: tuple[int | str, ...] = (4, 6, HEAD),
        gem_p: float = 3.0,
        flip: bool = True,
        grey: bool = True,
        threads: int = 0,
    ):
        self.backbone_name = backbone
        self.size = int(size)
        self.layers = tuple(layers)
        self.gem_p = float(gem_p)
        self.flip = bool(flip)
        self.grey = bool(grey)
        self.decode_side = self.size
        if threads:
            torch.set_num_threads(threads)
        # channels-last runs the depthwise convolutions about 2.5x faster on the CPU
        self.model = load_backbone(backbone).to(memory_format=torch.channels_last)
        with torch.inference_mode():
            probe = self._embed(torch.zeros(1, 3, 64, 64))
        self.dim = int(probe.shape[1])

    def _layer_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        m: Any = self.model
        x = m.bn1(m.conv_stem(x))
        wanted = {layer for layer in self.layers if layer != HEAD}
        outs: dict[int | str, torch.Tensor] = {}
        for i, block in enumerate(m.blocks):
            x = block(x)
            if i in wanted:
                outs[i] = x
        if HEAD in self.layers:
            outs[HEAD] = m.bn2(m.conv_head(x))
        return [outs[layer] for layer in self.layers]

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        parts = [torch.nn.functional.normalize(gem(o, self.gem_p), dim=1) for o in self._layer_outputs(x)]
        return torch.cat(parts, dim=1)

    def preprocess(self, images: list[Image.Image]) -> torch.Tensor:
        batch = np.empty((len(images), self.size, self.size, 3), dtype=np.float32)
        for i, img in enumerate(images):
            arr: np.ndarray = cv2.resize(np.asarray(img, dtype=np.uint8), (self.size, self.size),
                                         interpolation=cv2.INTER_AREA)
            if self.grey:
                g = cv2.cvtColor(arr, cv2.COLOR_RGB2GRAY)
                g = cv2.equalizeHist(g)  # colourways differ in contrast too: spread the grey levels
                arr = np.repeat(g[:, :, None], 3, axis=2)
            batch[i] = arr
        tensor = torch.from_numpy(batch).permute(0, 3, 1, 2)
        return (tensor / 127.5 - 1.0).contiguous(memory_format=torch.channels_last)  # mean = std = 0.5

    def extract(self, images: list[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), np.float32)
        x = self.preprocess(images)
        with torch.inference_mode():
            emb = self._embed(x)
            if self.flip:
                emb = emb + self._embed(torch.flip(x, dims=[3]).contiguous(memory_format=torch.channels_last))
        return l2_normalise(emb.numpy())

    def params(self) -> dict[str, Any]:
        return {
            "backbone": self.backbone_name, "size": self.size, "layers": [str(x) for x in self.layers],
            "gem_p": self.gem_p, "flip": self.flip, "grey": self.grey,
        }

    def weights_hash(self) -> str | None:
        return weights_sha256(self.backbone_name)


@register("pattern")
def _make_pattern(**kwargs: Any) -> Extractor:
    return PatternExtractor(**kwargs)
