"""Multi-layer pooling: stage outputs of an EfficientNet-Lite, each GeM-pooled and L2-normalised."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from swatch.features.backbone import BackboneError, fuse_batchnorm, load_backbone
from swatch.features.backbone_spec import HEAD, Layer, layer_widths, parse_layers

__all__ = ["HEAD", "Layer", "LayerPool", "gem", "parse_layers"]


def gem(x: torch.Tensor, p: float = 3.0, eps: float = 1e-6) -> torch.Tensor:
    """Generalised-mean pooling over H, W: (N, C, H, W) -> (N, C); p = 1 is average pooling of the positive part."""
    x = x.clamp(min=eps)
    if p == 1.0:
        return x.mean(dim=(2, 3))
    return x.pow(p).mean(dim=(2, 3)).pow(1.0 / p)


class LayerPool:
    """A backbone cut at `layers`: a batch in, one (N, C) pooled, unit-length tensor per layer out."""

    def __init__(self, backbone: str, layers: tuple[Layer, ...], gem_p: float):
        self.layers = layers
        self.gem_p = gem_p
        # folded batch norms and channels-last run this depthwise network about 3x faster on the CPU
        self.model: nn.Module = fuse_batchnorm(load_backbone(backbone)).to(memory_format=torch.channels_last)
        with torch.inference_mode():
            probe = self(torch.zeros(1, 3, 64, 64))
        self.layer_dims = [int(p.shape[1]) for p in probe]
        if self.layer_dims != layer_widths(backbone, layers):
            raise BackboneError(f"{backbone}: layers {list(layers)} have {self.layer_dims} channels, "
                                f"backbone_spec says {layer_widths(backbone, layers)}")

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Per layer: (N, C) GeM-pooled and L2-normalised."""
        outs = self.layer_outputs(x.contiguous(memory_format=torch.channels_last))
        return [torch.nn.functional.normalize(gem(o, self.gem_p), dim=1) for o in outs]

    def layer_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The raw (N, C, H, W) outputs of the wanted layers; the network stops after the last one needed."""
        m: Any = self.model
        x = m.bn1(m.conv_stem(x))
        wanted = {layer for layer in self.layers if layer != HEAD}
        last = len(m.blocks) - 1 if HEAD in self.layers else max(int(w) for w in wanted)
        outs: dict[Layer, torch.Tensor] = {}
        for i, block in enumerate(m.blocks):
            if i > last:
                break
            x = block(x)
            if i in wanted:
                outs[i] = x
        if HEAD in self.layers:
            outs[HEAD] = m.bn2(m.conv_head(x))
        return [outs[layer] for layer in self.layers]
