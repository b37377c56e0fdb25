"""The pattern network under ONNX Runtime: the same rows as PyTorch, exported once, atomically, and re-exported
when the saved graph is damaged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import shared_conftest

from swatch.features.base import get_extractor
from swatch.features.pattern.pooling import LayerPool
from swatch.features.pattern.runtime import OnnxPool
from swatch.images import open_image

make_image = shared_conftest().make_image
LAYERS = (3, 4, 5, 6, "head")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, OnnxPool]:
    folder = tmp_path_factory.mktemp("onnx")
    return folder, OnnxPool("efficientnet_lite0", LAYERS, 1.0, threads=1, folder=folder)


def test_exported_graph_matches_the_torch_layers(exported: tuple[Path, OnnxPool]) -> None:
    import torch

    folder, pool = exported
    files = [p.name for p in folder.iterdir()]
    assert len(files) == 1 and files[0].startswith("pattern-") and files[0].endswith(".onnx")  # no temp left
    reference = LayerPool("efficientnet_lite0", LAYERS, 1.0)
    rng = np.random.default_rng(3)
    for n, side in ((1, 224), (5, 160), (3, 97)):  # batch and side are free
        x = rng.uniform(-1, 1, (n, 3, side, side)).astype(np.float32)
        with torch.inference_mode():
            want = [t.numpy() for t in reference(torch.from_numpy(x))]
        got = pool(x)
        assert [g.shape for g in got] == [w.shape for w in want] == [(n, c) for c in (80, 112, 192, 320, 1280)]
        for g, w in zip(got, want, strict=True):
            assert np.abs(g - w).max() < 1e-5


def test_saved_graph_is_reused_and_a_damaged_one_exported_again(exported: tuple[Path, OnnxPool]) -> None:
    folder, pool = exported
    stamp = pool.path.stat().st_mtime_ns
    again = OnnxPool("efficientnet_lite0", LAYERS, 1.0, threads=1, folder=folder)
    assert again.path == pool.path and pool.path.stat().st_mtime_ns == stamp  # read, not exported
    pool.path.write_bytes(b"not an onnx graph")
    healed = OnnxPool("efficientnet_lite0", LAYERS, 1.0, threads=1, folder=folder)
    x = np.zeros((1, 3, 64, 64), np.float32)
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(healed(x), pool(x), strict=True))
    assert pool.path.read_bytes()[:4] != b"not "


def test_extractor_rows_equal_under_both_runtimes(tmp_path: Path) -> None:
    pics = [open_image(make_image(tmp_path / f"{k}.png", size=(180 + 40 * k, 150), seed=k)) for k in range(5)]
    onnx = get_extractor("pattern")
    torch_rows = get_extractor("pattern", runtime="torch").extract(pics)
    onnx_rows = onnx.extract(pics)
    assert onnx.runtime == "onnxruntime" and onnx_rows.shape == torch_rows.shape == (5, 1984)
    assert np.abs(onnx_rows - torch_rows).max() < 1e-5
    with pytest.raises(ValueError, match="runtime must be one of"):
        get_extractor("pattern", runtime="tensorflow")
