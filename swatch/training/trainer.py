"""Metric-learning trainer: a projection head on frozen base rows, trained with a triplet margin loss (torch)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from swatch.training.data import Examples


@dataclass
class TrainConfig:
    """Hyper-parameters of the head and its training (the defaults are the measured ones, docs/training.md)."""

    epochs: int = 30
    dim: int = 256  # output dimension
    hidden: int = 0  # 0: a linear projection; > 0: one hidden ReLU layer of this width
    margin: float = 0.1  # triplet margin on cosine similarity
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch: int = 2048  # triplets per step
    hard_fraction: float = 0.5  # share of anchors with known bad results that get one of those as negative
    keep: float = 0.0  # weight of holding the head's similarities among sampled catalogue rows to the start's
    keep_sample: int = 256  # catalogue rows sampled per step for that term
    centre: bool = False  # start as the centred projection (measured better label-free, worse on a few ratings)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainOutput:
    """Numpy weights for `swatch.training.head.forward` and the mean loss of every epoch."""

    weights: dict[str, np.ndarray]
    loss_curve: list[float]


def pca_basis(rows: np.ndarray, dim: int, sample: int = 20_000, seed: int = 0) -> np.ndarray:
    """(d, dim) orthonormal columns: the top principal directions of (a sample of) `rows`, completed with random
    orthogonal directions when there are fewer rows than `dim`. The starting projection, close to the base ranking."""
    rng = np.random.default_rng(seed)
    x = np.asarray(rows, dtype=np.float64)
    if x.shape[0] > sample:
        x = x[np.sort(rng.choice(x.shape[0], sample, replace=False))]
    dim = min(dim, x.shape[1])
    x = x - x.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    basis = vt[: min(dim, int((s > 1e-6 * max(float(s[0]), 1e-12)).sum()))].T
    if basis.shape[1] < dim:
        extra = rng.normal(size=(x.shape[1], dim - basis.shape[1]))
        extra -= basis @ (basis.T @ extra)
        basis = np.hstack([basis, np.linalg.qr(extra)[0]])
    return basis.astype(np.float32)


class _Head(nn.Module):
    def __init__(self, base: np.ndarray, config: TrainConfig):
        super().__init__()
        d = base.shape[1]
        basis = torch.from_numpy(pca_basis(base, config.dim if config.hidden <= 0 else config.hidden,
                                            seed=config.seed))
        widths = [d, basis.shape[1]] + ([config.dim] if config.hidden > 0 else [])
        self.layers = nn.ModuleList(nn.Linear(widths[k], widths[k + 1]) for k in range(len(widths) - 1))
        mean = np.asarray(base, dtype=np.float32).mean(axis=0) if config.centre else None
        with torch.no_grad():  # start as the principal projection, centred on the catalogue's mean if asked
            self.linears[0].weight.copy_(basis.T)
            self.linears[0].bias.zero_()
            if mean is not None:
                self.linears[0].bias.copy_(-(torch.from_numpy(mean) @ basis))

    @property
    def linears(self) -> list[nn.Linear]:
        return [cast(nn.Linear, layer) for layer in self.layers]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for k, layer in enumerate(self.linears):
            x = layer(x)
            if k < len(self.layers) - 1:
                x = torch.relu(x)
        return nn.functional.normalize(x, dim=1)

    def numpy_weights(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for k, layer in enumerate(self.linears):
            out[f"w{k}"] = layer.weight.detach().numpy().T.copy()
            out[f"b{k}"] = layer.bias.detach().numpy().copy()
        return out


def _negatives(ex: Examples, n_base: int, hard_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """One negative per pair: a known bad result of the anchor (with probability hard_fraction), else any row."""
    neg = np.asarray(rng.integers(0, n_base, ex.anchors.shape[0]), dtype=np.int64)
    if ex.hard_negatives and hard_fraction > 0:
        pick = rng.random(ex.anchors.shape[0]) < hard_fraction
        for i in np.flatnonzero(pick):
            bad = ex.hard_negatives.get(int(ex.anchors[i]))
            if bad is not None and bad.size:
                neg[i] = bad[int(rng.integers(bad.size))]
    return neg


def _keep_loss(head: _Head, rows: torch.Tensor, start: torch.Tensor, sample: int,
               rng: np.random.Generator) -> torch.Tensor:
    """Mean squared change of the cosine similarities among a random sample of catalogue rows since the start
    (`start`: the starting head's output for every catalogue row): it keeps the catalogue's own neighbourhoods
    while the pairs teach the head."""
    pick = torch.from_numpy(np.sort(rng.choice(start.shape[0], min(sample, start.shape[0]), replace=False)))
    emb, ref = head(rows[pick]), start[pick]
    return ((emb @ emb.T - ref @ ref.T) ** 2).mean()


def train_head(
    base: np.ndarray,
    examples: Examples,
    config: TrainConfig,
    progress: Callable[[int, float], None] | None = None,
) -> TrainOutput:
    """Fit the head so that cos(anchor, positive) beats cos(anchor, negative) by `margin`.

    Each step embeds only the distinct rows its triplets touch. `progress(epoch, loss)` runs after every epoch
    (it may raise to stop training).
    """
    if examples.anchors.size == 0:
        raise ValueError("no training pairs")
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    n_base = int(base.shape[0])
    rows = torch.from_numpy(np.ascontiguousarray(np.vstack([base, examples.extra_rows]), dtype=np.float32))
    head = _Head(np.asarray(base, dtype=np.float32), config)
    opt = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    with torch.no_grad():
        start_rows = head(rows[:n_base]) if config.keep > 0 else rows[:0]
    pair_w = torch.from_numpy(examples.weights)
    curve: list[float] = []
    n = examples.anchors.shape[0]
    for epoch in range(1, config.epochs + 1):
        negatives = _negatives(examples, n_base, config.hard_fraction, rng)
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, config.batch):
            b = order[start : start + config.batch]
            k = b.shape[0]
            used, inverse = np.unique(
                np.concatenate([examples.anchors[b], examples.positives[b], negatives[b]]), return_inverse=True
            )
            emb = head(rows[torch.from_numpy(used)])
            inv = torch.from_numpy(inverse)
            fa, fp, fn = emb[inv[:k]], emb[inv[k : 2 * k]], emb[inv[2 * k :]]
            hinge = torch.relu(config.margin - (fa * fp).sum(1) + (fa * fn).sum(1))
            w = pair_w[torch.from_numpy(b)]
            loss = (hinge * w).sum() / w.sum()
            if config.keep > 0:
                loss = loss + config.keep * _keep_loss(head, rows, start_rows, config.keep_sample, rng)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * k
        curve.append(round(total / n, 6))
        if progress is not None:
            progress(epoch, curve[-1])
    return TrainOutput(head.numpy_weights(), curve)
