"""The offline EfficientNet-Lite0 backbone: packaged weights load in order and really are ImageNet-trained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import shared_conftest
from PIL import Image

from swatch.features.backbone import BackboneError, load_backbone, weights_path, weights_sha256
from swatch.images import open_image

ZEBRA, LEOPARD = 340, 288  # ImageNet-1k class indices
# ImageNet classes that are flat fabric: dishrag, doormat, handkerchief, quilt, prayer rug, shower curtain,
# velvet, window screen, window shade, wool
TEXTILE = {533, 539, 591, 750, 741, 794, 885, 904, 905, 911}


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return load_backbone("efficientnet_lite0")


def batch(images: list[Image.Image]) -> torch.Tensor:
    """224 x 224, mean = std = 0.5, NCHW: the input the packaged weights were trained with."""
    arrs = [np.asarray(im.resize((224, 224), Image.Resampling.BILINEAR), np.float32) for im in images]
    return torch.from_numpy(np.stack(arrs) / 127.5 - 1.0).permute(0, 3, 1, 2).contiguous()


def class_rank(probs: torch.Tensor, cls: int) -> list[int]:
    """1-based rank of class `cls` among the 1000 classes, per image."""
    return ((probs > probs[:, cls : cls + 1]).sum(dim=1) + 1).tolist()


def mean_pairwise_cosine(probs: torch.Tensor) -> float:
    unit = torch.nn.functional.normalize(probs, dim=1)
    sims = unit @ unit.T
    return float(sims[~torch.eye(len(probs), dtype=torch.bool)].mean())


def test_296_tensors_load_in_order(model: torch.nn.Module) -> None:
    import timm

    source = torch.load(weights_path("efficientnet_lite0"), map_location="cpu", weights_only=True)
    fresh = timm.create_model("efficientnet_lite0", pretrained=False).state_dict()
    loaded = model.state_dict()
    assert len(source) == len(fresh) == len(loaded) == 296
    for (src_key, tensor), (dst_key, expected), (key, got) in zip(
        source.items(), fresh.items(), loaded.items(), strict=True
    ):
        assert dst_key == key
        assert tuple(tensor.shape) == tuple(expected.shape), (src_key, dst_key)
        assert src_key.rsplit(".", 1)[-1] == dst_key.rsplit(".", 1)[-1]  # weight/bias/running_* line up
        assert torch.equal(tensor, got), dst_key
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert len(weights_sha256("efficientnet_lite0")) == 64


def test_unknown_backbone_is_refused() -> None:
    with pytest.raises(BackboneError, match="unknown backbone 'resnet9000'"):
        weights_path("resnet9000")


def test_predictions_differ_from_a_random_model(model: torch.nn.Module, demo_images: Path) -> None:
    """An untrained net says the same thing about every image; the trained one tells designs apart and
    sees fabric in them."""
    import timm

    files = sorted(demo_images.glob("*.jpg"))[:24:3]  # 8 different designs
    x = batch([open_image(f) for f in files])
    torch.manual_seed(0)
    random_model = timm.create_model("efficientnet_lite0", pretrained=False).eval()
    with torch.inference_mode():
        trained = model(x).softmax(dim=1)
        untrained = random_model(x).softmax(dim=1)
    assert mean_pairwise_cosine(untrained) > 0.9
    assert mean_pairwise_cosine(trained) < 0.6
    assert len(set(trained.argmax(dim=1).tolist())) >= 3
    top5 = trained.topk(5, dim=1).indices.tolist()
    assert sum(bool(TEXTILE & set(t)) for t in top5) >= 6, top5
    assert sum(bool(TEXTILE & set(t)) for t in untrained.topk(5, dim=1).indices.tolist()) <= 2


@pytest.mark.datasets
def test_zebra_and_leopard_prints_rank_their_imagenet_class(model: torch.nn.Module) -> None:
    """These are garment photos, so the top-1 class is mostly the garment ('fur coat', 'poncho', 'wool') and
    the animal is in the top 5 for only 1 or 2 of 10; the animal class must still rank in the top 100 of 1000
    for most images, and far above its rank on the other print."""
    root = shared_conftest().dataset("fashion-texture") / "images"
    zebra = [open_image(f) for f in sorted((root / "zebra").glob("*.jpg"))[:10]]
    leopard = [open_image(f) for f in sorted((root / "leopard").glob("*.jpg"))[:10]]
    with torch.inference_mode():
        pz = model(batch(zebra)).softmax(dim=1)
        pl = model(batch(leopard)).softmax(dim=1)
    zebra_ranks, leopard_ranks = class_rank(pz, ZEBRA), class_rank(pl, LEOPARD)
    assert sum(r <= 100 for r in zebra_ranks) >= 7, zebra_ranks  # chance: 1 in 10 per image
    assert sum(r <= 100 for r in leopard_ranks) >= 7, leopard_ranks
    assert np.median(zebra_ranks) * 4 < np.median(class_rank(pl, ZEBRA))
    assert np.median(leopard_ranks) * 4 < np.median(class_rank(pz, LEOPARD))
