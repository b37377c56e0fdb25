"""Few ratings reach further: a liked pair pulls the mutual neighbours of its designs; the head starts centred."""

from __future__ import annotations

import numpy as np
import torch

from swatch.training import data as tdata
from swatch.training import neighbours
from swatch.training.service import TrainParams
from swatch.training.trainer import TrainConfig, _Head


def _clusters(seed: int = 0, per: int = 12, k: int = 4, dim: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim)) * 3
    label = np.repeat(np.arange(k), per)
    rows = centres[label] + rng.normal(size=(k * per, dim))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32), label


def test_mutual_neighbours_are_mutual_and_near() -> None:
    rows, label = _clusters()
    near = neighbours.mutual_neighbours(rows, [0, 13, 30], k=5)
    assert set(near) == {0, 13, 30}
    sims = rows @ rows.T
    np.fill_diagonal(sims, -np.inf)
    top5 = np.argsort(-sims, axis=1)[:, :5]
    for r, found in near.items():
        assert found, f"row {r} has no mutual neighbour in a tight cluster"
        for m in found:
            assert m in top5[r] and r in top5[m]
            assert label[m] == label[r]


def test_a_liked_pair_pulls_both_neighbourhoods_and_a_disliked_one_nothing() -> None:
    rows, label = _clusters(1)
    q, r = 0, 1  # one cluster
    liked = [tdata.Rating(100, 101, q, r, 5.0, 1)]
    builder = tdata.ExampleBuilder(dim=rows.shape[1], n_base=len(rows))
    added = neighbours.add_neighbour_pairs(builder, rows, liked)
    ex = builder.build()
    assert added == ex.anchors.size > 0 and ex.counts == {"neighbour_pairs": added}
    assert np.allclose(ex.weights, neighbours.WEIGHT)
    touched = set(ex.anchors.tolist()) | set(ex.positives.tolist())
    assert {q, r} <= touched and all(label[t] == label[q] for t in touched)
    assert all(a != p for a, p in zip(ex.anchors.tolist(), ex.positives.tolist(), strict=True))
    disliked = tdata.ExampleBuilder(dim=rows.shape[1], n_base=len(rows))
    assert neighbours.add_neighbour_pairs(disliked, rows, [tdata.Rating(100, 120, q, 20, 1.0, 1)]) == 0


def test_many_liked_pairs_are_not_propagated(monkeypatch) -> None:
    rows, _ = _clusters(2, per=20)
    ratings = [tdata.Rating(1000 + i, 2000 + i, i, i + 1, 5.0, 1) for i in range(0, 12, 2)]
    few = tdata.ExampleBuilder(dim=rows.shape[1], n_base=len(rows))
    assert neighbours.add_neighbour_pairs(few, rows, ratings) > 0
    monkeypatch.setattr(neighbours, "MAX_LIKED", len(ratings) - 1)
    many = tdata.ExampleBuilder(dim=rows.shape[1], n_base=len(rows))
    assert neighbours.add_neighbour_pairs(many, rows, ratings) == 0 and not many.pairs


def test_the_label_free_head_starts_centred_and_the_ratings_head_does_not() -> None:
    rows, _ = _clusters(3)
    centred = _Head(rows, TrainConfig(dim=8, centre=True)).linears[0]
    plain = _Head(rows, TrainConfig(dim=8)).linears[0]
    with torch.no_grad():
        at_mean = centred(torch.from_numpy(rows.mean(axis=0, keepdims=True)))
        projected = centred(torch.from_numpy(rows)).numpy()
        assert float(plain.bias.abs().max()) == 0.0
        assert torch.equal(plain.weight, centred.weight)  # the same principal directions either way
    assert float(at_mean.abs().max()) < 1e-5
    assert np.allclose(projected.mean(axis=0), 0.0, atol=1e-5)
    assert TrainParams(mode="catalogue").config().centre and not TrainParams().config().centre
