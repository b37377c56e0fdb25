"""Label-free training (mode "catalogue"): no rating needed, judged on held-out synthetic views, refusals."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from swatch.catalog.db import Catalog
from swatch.config import Settings
from swatch.features.store import FeatureStore
from swatch.training import data as tdata
from swatch.training import label_free
from swatch.training.service import TrainingError, TrainParams, train_pattern_version


def test_view_recall_counts_views_that_find_their_own_design() -> None:
    catalogue = np.eye(4, dtype=np.float32)
    views = np.array([[1, 0, 0, 0], [0.1, 0.9, 0, 0], [0, 0, 0.2, 0.8]], dtype=np.float32)
    got = label_free.view_recall(catalogue, views, np.array([0, 1, 2]))
    assert got["views"] == 3 and got["recall_at_1"] == pytest.approx(2 / 3, abs=1e-4)
    assert got["mrr"] == pytest.approx((1 + 1 + 0.5) / 3, abs=1e-4)


def test_decision_needs_a_gain_on_heldout_views() -> None:
    better = {"new": {"views": 20, "recall_at_1": 0.9}, "v1": {"views": 20, "recall_at_1": 0.8}}
    worse = {"new": {"views": 20, "recall_at_1": 0.7}, "v1": {"views": 20, "recall_at_1": 0.8}}
    assert label_free.decide("auto", better, "v1")[0]
    activated, reason = label_free.decide("auto", worse, "v1")
    assert not activated and "does not beat v1" in reason
    assert not label_free.decide("auto", {"new": {"views": 0, "recall_at_1": None}}, "v1")[0]


def test_strong_views_keep_the_mode_and_change_the_pixels() -> None:
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (64, 80, 3), dtype=np.uint8), "RGB")
    out = tdata.augment_strong(img, np.random.default_rng(1))
    assert out.mode == "RGB" and min(out.size) >= 16
    assert out.size != img.size or not np.array_equal(np.asarray(out), np.asarray(img))


def test_a_catalogue_learns_without_any_rating(settings: Settings) -> None:
    assert not Catalog(settings.db_path).connect().execute("SELECT COUNT(*) FROM feedback").fetchone()[0]
    info = train_pattern_version(settings, TrainParams(mode="catalogue", epochs=4))
    views = info["metrics"]["views"]
    assert views["new"]["views"] > 0 and views["new"]["views"] == views["v1"]["views"]
    assert info["data"]["usable_train"] == 0 and info["data"]["augmented"] > 0
    assert info["data"]["pairs"]["augmented_pairs"] == 2 * info["data"]["augmented"]
    assert info["decision"]["activated"] == (views["new"]["recall_at_1"] > views["v1"]["recall_at_1"])
    assert "synthetic views" in info["decision"]["reason"]
    new = FeatureStore(settings.features_dir).load("pattern", info["version"])
    assert new.info["kind"] == "trained-head" and new.features.shape[1] == 256


def test_a_label_free_run_on_five_designs_is_refused(tmp_path, demo_images, capsys) -> None:
    from swatch.cli import main
    from swatch.ingest import ingest

    few = tmp_path / "few"
    few.mkdir()
    for path in sorted(demo_images.rglob("*.jpg"))[:5]:
        shutil.copy2(path, few / path.name)
    settings = Settings.from_env(data_dir=tmp_path / "data")
    ingest(few, settings, models=["pattern"], progress=False)
    with pytest.raises(TrainingError, match="at least 20 designs"):
        train_pattern_version(settings, TrainParams(mode="catalogue"))
    assert main(["train", "--data-dir", str(settings.data_dir), "--mode", "catalogue", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: a label-free run needs at least 20 designs") and "\n" not in err
    assert FeatureStore(settings.features_dir).versions("pattern") == ["v1"]
    with pytest.raises(TrainingError, match="mode must be one of"):
        TrainParams(mode="guess")


def test_keep_holds_the_catalogue_similarities_near_the_start() -> None:
    from swatch.training.head import forward
    from swatch.training.trainer import TrainConfig, pca_basis, train_head

    rng = np.random.default_rng(3)
    base = rng.normal(size=(60, 24)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    b = tdata.ExampleBuilder(dim=24, n_base=60)
    for a in range(0, 60, 2):  # arbitrary pairs: learning them alone reshapes the catalogue
        b.add_pair(a, a + 1, 1.0, "x")
        b.add_pair(a + 1, a, 1.0, "x")
    examples = b.build()
    start = forward({"w0": pca_basis(base, 8), "b0": -(base.mean(axis=0) @ pca_basis(base, 8))}, base)
    drift = {}
    for keep in (0.0, 20.0):
        out = train_head(base, examples, TrainConfig(epochs=40, dim=8, lr=1e-2, keep=keep))
        new = forward(out.weights, base)
        drift[keep] = float(np.abs(new @ new.T - start @ start.T).mean())
    assert drift[20.0] < 0.6 * drift[0.0]


def test_views_of_heldout_designs_are_never_trained_on(tmp_path) -> None:
    rng = np.random.default_rng(0)
    paths = {}
    for row in range(30):
        paths[row] = tmp_path / f"d{row}.png"
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8), "RGB").save(paths[row])

    def extract(imgs: list[Image.Image]) -> np.ndarray:
        return np.array([np.asarray(img, dtype=np.float32).mean(axis=(0, 1)) for img in imgs])

    split = label_free.collect_views(paths, extract, np.random.default_rng(1), decode_side=64)
    train, held = set(split.train.sources.tolist()), set(split.heldout.sources.tolist())
    assert not train & held and len(held) == 6 and len(train | held) == 30
    assert len(split.train.sources) == label_free.VIEWS_PER_DESIGN * 24
    assert len(split.heldout.sources) == label_free.VIEWS_PER_DESIGN * 6
