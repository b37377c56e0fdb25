"""Retraining the pattern model: pairs from ratings and design codes, the head, new versions, refusals, cancel."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import rate_like_a_designer, tree_digest
from PIL import Image

from swatch.catalog.db import Catalog
from swatch.features.store import FeatureStore
from swatch.features.versions import transform_rows
from swatch.jobs import JobCancelled
from swatch.training import data as tdata
from swatch.training.head import HeadError, forward, head_transform
from swatch.training.service import TrainingError, TrainParams, _decide, train_pattern_version
from swatch.training.trainer import TrainConfig, train_head

FAST = {"epochs": 5, "augment": 4, "min_ratings": 10}


def _clustered(n_classes: int = 6, per_class: int = 30, dim: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose class lives in a few weak directions, buried under strong class-free nuisance directions."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), per_class)
    centres = rng.normal(size=(n_classes, 8))
    rows = np.hstack([centres[labels] + 0.4 * rng.normal(size=(labels.size, 8)),
                      3.0 * rng.normal(size=(labels.size, dim - 8))])
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32), labels


def _p_at_5(rows: np.ndarray, labels: np.ndarray) -> float:
    sims = rows @ rows.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argsort(-sims, axis=1)[:, :5]
    return float((labels[top] == labels[:, None]).mean())


def test_head_learns_what_ratings_say_and_generalises():
    rows, labels = _clustered()
    rng = np.random.default_rng(1)
    train_q = rng.choice(rows.shape[0], 60, replace=False)
    ratings = []
    for q in train_q:  # rate 10 random results of each training query
        for r in rng.choice(rows.shape[0], 10, replace=False):
            if r != q:
                ratings.append(tdata.Rating(int(q), int(r), int(q), int(r), 5.0 if labels[q] == labels[r] else 1.0, 1))
    builder = tdata.ExampleBuilder(dim=rows.shape[1], n_base=rows.shape[0])
    tdata.add_rating_pairs(builder, ratings)
    out = train_head(rows, builder.build(), TrainConfig(epochs=100, dim=32, lr=1e-2, margin=0.2))
    held = np.setdiff1d(np.arange(rows.shape[0]), train_q)
    new = forward(out.weights, rows)
    assert new.shape == (rows.shape[0], 32)
    assert np.allclose(np.linalg.norm(new, axis=1), 1.0, atol=1e-5)
    before, after = _p_at_5(rows, labels), _p_at_5(new, labels)
    assert after > before + 0.2, (before, after)
    assert _p_at_5(new[held], labels[held]) > _p_at_5(rows[held], labels[held]) + 0.15
    assert out.loss_curve[-1] < out.loss_curve[0]


def test_rating_pairs_both_ways_co_liked_and_hard_negatives():
    ratings = [tdata.Rating(1, 2, 0, 1, 5.0, 1), tdata.Rating(1, 3, 0, 2, 4.0, 1), tdata.Rating(1, 4, 0, 3, 1.0, 1),
               tdata.Rating(1, 5, 0, 4, 3.0, 1)]
    builder = tdata.ExampleBuilder(dim=4, n_base=5)
    tdata.add_rating_pairs(builder, ratings)
    ex = builder.build()
    pairs = {(int(a), int(p)): float(w) for a, p, w in zip(ex.anchors, ex.positives, ex.weights, strict=True)}
    assert pairs[(0, 1)] == pairs[(1, 0)] == pairs[(0, 2)] == 1.0
    assert pairs[(1, 2)] == pairs[(2, 1)] == 0.5  # liked for the same query
    assert (0, 4) not in pairs and (0, 3) not in pairs  # 3 stars says nothing; 1 star is no positive
    assert ex.hard_negatives[0].tolist() == [3] and ex.hard_negatives[1].tolist() == [3]
    assert tdata.usable(ratings) == 3


def test_heldout_split_is_by_query_and_stable():
    ratings = [tdata.Rating(q, r, q, r, 5.0, 1) for q in range(400) for r in range(400, 403)]
    train, held = tdata.split_ratings(ratings, 0.25)
    held_q = {r.query_id for r in held}
    assert held_q.isdisjoint({r.query_id for r in train})
    assert 60 <= len(held_q) <= 140
    assert held_q == {r.query_id for r in tdata.split_ratings(list(reversed(ratings)), 0.25)[1]}
    assert tdata.split_ratings(ratings, 0.0)[1] == []


def test_design_codes_pair_colourways(settings):
    catalog = Catalog(settings.db_path)
    fv = FeatureStore(settings.features_dir).load("pattern", "v1")
    images = catalog.images_by_ids([int(i) for i in fv.ids])
    designs = {k: images[int(i)].design for k, i in enumerate(fv.ids)}
    builder = tdata.ExampleBuilder(dim=4, n_base=len(fv))
    tdata.add_design_pairs(builder, designs, np.random.default_rng(0))
    ex = builder.build()
    assert ex.anchors.size == 12 * 3 * 2  # 12 designs x 3 colourways, ordered pairs within a design
    assert all(designs[int(a)] == designs[int(p)] for a, p in zip(ex.anchors, ex.positives, strict=True))


def test_decision_needs_enough_heldout_ratings_and_a_real_gain():
    good = {"agreement": 0.9, "pairs": 50}
    assert _decide("auto", {"new": good, "v1": {"agreement": 0.8}}, "v1")[0]
    assert not _decide("auto", {"new": {"agreement": 0.7, "pairs": 50}, "v1": {"agreement": 0.8}}, "v1")[0]
    assert not _decide("auto", {"new": {"agreement": 0.99, "pairs": 3}, "v1": {"agreement": 0.5}}, "v1")[0]
    assert _decide("yes", {"new": {"agreement": None, "pairs": 0}}, "v1")[0]
    assert not _decide("no", {"new": good, "v1": {"agreement": 0.1}}, "v1")[0]


def test_training_publishes_a_new_version_and_leaves_v1_alone(settings):
    rate_like_a_designer(settings)
    store = FeatureStore(settings.features_dir)
    v1_before = tree_digest(store.version_path("pattern", "v1"))
    messages: list[tuple[float, str]] = []
    info = train_pattern_version(settings, TrainParams(activate="no", **FAST),
                                 progress=lambda f, m: messages.append((f, m)))
    assert info["version"] == "v2"
    folder = settings.models_dir / "pattern" / "v2"
    saved = json.loads((folder / "info.json").read_text())
    assert saved["weights"]["sha256"] == hashlib.sha256((folder / "head.npz").read_bytes()).hexdigest()
    assert saved["epochs"] == 5 and len(saved["loss_curve"]) == 5
    assert saved["data"]["pairs"]["design_pairs"] == 72 and saved["data"]["pairs"]["rating_pairs"] > 0
    assert saved["data"]["augmented"] == 4 and saved["data"]["queries_heldout"] > 0
    assert {"new", "v1"} <= set(saved["metrics"]["heldout"]) and saved["seconds"]["total"] > 0
    assert [f for f, _ in messages] == sorted(f for f, _ in messages) and messages[-1][0] == 1.0

    v1, v2 = store.load("pattern", "v1"), store.load("pattern", "v2")
    assert tree_digest(store.version_path("pattern", "v1")) == v1_before
    assert np.array_equal(v1.ids, v2.ids) and v2.features.shape == (len(v1), 256)
    assert v2.info["kind"] == "trained-head" and v2.info["base_version"] == "v1"
    # the query path (transform_rows on a freshly extracted base row) lands on the stored row
    assert np.allclose(transform_rows("pattern", v2.info, np.asarray(v1.features[:3])), v2.features[:3], atol=1e-5)
    assert store.exists("color+pattern", "v2")
    catalog = Catalog(settings.db_path)
    assert {v["version"] for v in catalog.model_versions("pattern")} == {"v1", "v2"}
    assert catalog.active_version("pattern") == "v1" and not info["decision"]["activated"]

    again = train_pattern_version(settings, TrainParams(activate="yes", **FAST))
    assert again["version"] == "v3" and catalog.active_version("pattern") == "v3"
    assert catalog.active_version("color+pattern") == "v3"


def test_the_head_separates_colourways_from_other_designs_better_than_v1(settings):
    rate_like_a_designer(settings)
    info = train_pattern_version(settings, TrainParams(activate="auto", holdout=0.3, epochs=30, augment=0,
                                                       min_ratings=10))
    held = info["metrics"]["heldout"]
    assert held["new"]["pairs"] > 0
    assert held["new"]["agreement"] >= held["v1"]["agreement"]
    assert info["decision"]["activated"] == (held["new"]["agreement"] > held["v1"]["agreement"])


def test_too_few_ratings_is_refused_and_writes_nothing(settings, capsys):
    from swatch.cli import main

    with pytest.raises(TrainingError, match="too few ratings"):
        train_pattern_version(settings, TrainParams())
    assert main(["train", "--data-dir", str(settings.data_dir), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: too few ratings") and "\n" not in err
    assert main(["train", "--data-dir", str(settings.data_dir), "--model", "color"]) == 2
    assert "untrainable model" in capsys.readouterr().err
    assert main(["train", "--data-dir", str(settings.data_dir / "nowhere")]) == 2
    assert not (settings.models_dir / "pattern").exists()
    assert FeatureStore(settings.features_dir).versions("pattern") == ["v1"]


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"epochs": "5"}, {"activate": "maybe"}, {"holdout": 1.5},
                                 {"model": "color"}, {"designs": 1}, {"colour": 1}, {"base_version": "x"}])
def test_bad_parameters_are_refused(bad):
    with pytest.raises(TrainingError):
        TrainParams.from_mapping(bad)


def test_cancel_during_training_leaves_no_trace(settings):
    rate_like_a_designer(settings, queries=12)
    catalog = Catalog(settings.db_path)
    before = catalog.model_versions()

    def progress(fraction: float, message: str) -> None:
        if message.startswith("epoch 2/"):
            raise JobCancelled()

    with pytest.raises(JobCancelled):
        train_pattern_version(settings, TrainParams(**FAST), progress=progress)
    assert catalog.model_versions() == before
    assert not any((settings.models_dir / "pattern").glob("v*"))
    assert FeatureStore(settings.features_dir).versions("pattern") == ["v1"]


def test_cli_prints_the_version_and_before_after(settings, capsys):
    from swatch.cli import main

    rate_like_a_designer(settings, queries=20)
    code = main(["train", "--data-dir", str(settings.data_dir), "--epochs", "3", "--augment", "0", "--quiet",
                          "--activate", "no"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("pattern/v2: trained on") and "held-out ratings" in out and "not activated" in out


def test_altered_weights_are_detected(settings):
    rate_like_a_designer(settings, queries=12)
    info = train_pattern_version(settings, TrainParams(**FAST))
    path = Path(info["weights"]["file"])
    rows = np.asarray(FeatureStore(settings.features_dir).load("pattern", "v1").features[:2])
    assert head_transform(info, rows).shape == (2, 256)
    with np.load(path) as npz:
        weights = {k: npz[k] * 1.5 for k in npz.files}
    np.savez(path, **weights)
    with pytest.raises(HeadError, match="changed since training"):
        head_transform(info, rows)


def test_new_images_reach_the_trained_version(settings, tmp_path):
    from swatch.ingest import ingest

    rate_like_a_designer(settings, queries=12)
    train_pattern_version(settings, TrainParams(**FAST))
    extra = tmp_path / "more"
    extra.mkdir()
    for k in range(3):
        pixels = (np.random.default_rng(k).random((96, 96, 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels, "RGB").save(extra / f"AW22 - NEW - KM9900{k}-1.png")
    ingest(extra, settings, progress=False)
    store = FeatureStore(settings.features_dir)
    v1, v2 = store.load("pattern", "v1"), store.load("pattern", "v2")
    assert len(v1) == 36 + 3 and np.array_equal(v1.ids, v2.ids)
    assert np.allclose(transform_rows("pattern", v2.info, np.asarray(v1.features)), v2.features, atol=1e-5)
    assert len(store.load("color+pattern", "v2")) == 39
