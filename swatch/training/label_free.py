"""Learning the catalogue without labels: synthetic views of every design as pairs, judged on held-out views.

The label-free mode (`TrainParams(mode="catalogue")`) needs no rating. Each sampled catalogue design gets two
synthetic views (another colourway, a crop, a flip or quarter turn, another scale, blur, uneven light, JPEG); a
view and its design are a positive pair, other designs the negatives, and the catalogue's own colourway groups
(one design code, several colourways) are positives too. The head is held to the catalogue's similarities at its
start (KEEP), so it learns the views without forgetting which designs resemble each other. A share of the sampled
designs is held out: their views are never trained on, and a version is judged by how often such a view finds its
own design first among the whole catalogue (recall@1) — a measure that needs no labels, so activation can be
decided without a single rating.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from swatch.training import data as tdata

MODES = ("ratings", "catalogue")
VIEWS = 768  # designs given synthetic views (all of them in a smaller catalogue)
VIEWS_PER_DESIGN = 2  # two views a design learn more than one (bench/label_free.py)
HELDOUT_SHARE = 0.2  # of those designs, the ones whose views are kept out of training to judge versions
MAX_HELDOUT = 200
MIN_DESIGNS = 20  # a label-free run on fewer designs has nothing to learn apart
KEEP = 3.0  # weight of keeping the catalogue's similarities to the start's (TrainConfig.keep): class precision holds


@dataclass
class ViewSplit:
    """Training views (become pairs) and held-out views (only measured)."""

    train: tdata.Views
    heldout: tdata.Views


def collect_views(
    paths: dict[int, Any], extract: Callable[[list[Any]], np.ndarray], rng: np.random.Generator,
    decode_side: int, progress: Callable[[float], None] | None = None,
) -> ViewSplit:
    """VIEWS_PER_DESIGN strong synthetic views of up to VIEWS designs (base row -> file); the views of a share of
    those designs are held out (never trained on), the rest are training views."""
    rows = sorted(paths)
    chosen = sorted(rng.choice(rows, min(VIEWS, len(rows)), replace=False).tolist()) if rows else []
    n_held = min(MAX_HELDOUT, max(1, int(round(len(chosen) * HELDOUT_SHARE)))) if chosen else 0
    held_rows = rng.choice(chosen, n_held, replace=False) if chosen else np.zeros(0, np.int64)
    parts = []
    for k in range(VIEWS_PER_DESIGN):
        def part(f: float, k: int = k) -> None:
            if progress is not None:
                progress((k + f) / VIEWS_PER_DESIGN)

        parts.append(tdata.augmented_views(paths, chosen, extract, rng, decode_side=decode_side, progress=part,
                                           view=tdata.augment_strong))
    views = tdata.Views(np.concatenate([p.sources for p in parts]), np.concatenate([p.features for p in parts]))
    held = np.isin(views.sources, held_rows)
    return ViewSplit(tdata.Views(views.sources[~held], views.features[~held]),
                     tdata.Views(views.sources[held], views.features[held]))


def view_recall(catalogue: np.ndarray, views: np.ndarray, sources: np.ndarray) -> dict[str, Any]:
    """How well held-out views find their own design among all catalogue rows (both in one version's space)."""
    if len(sources) == 0:
        return {"views": 0, "recall_at_1": None, "recall_at_10": None, "mrr": None}
    sims = np.asarray(views, dtype=np.float32) @ np.asarray(catalogue, dtype=np.float32).T
    own = sims[np.arange(len(sources)), sources]
    rank = (sims > own[:, None]).sum(axis=1)  # designs strictly closer than the view's own
    return {"views": int(len(sources)), "recall_at_1": round(float((rank == 0).mean()), 4),
            "recall_at_10": round(float((rank < 10).mean()), 4), "mrr": round(float((1.0 / (1 + rank)).mean()), 4)}


def decide(mode: str, views: dict[str, dict[str, Any]], active: str) -> tuple[bool, str]:
    """Activation of a label-free version: better held-out view recall@1 than the active version."""
    new, old = views["new"], views.get(active, {})
    if mode == "yes":
        return True, "activation requested"
    if mode == "no":
        return False, "activation not requested"
    if not new.get("views") or new.get("recall_at_1") is None or old.get("recall_at_1") is None:
        return False, "no held-out views to compare with the active version"
    if new["recall_at_1"] > old["recall_at_1"]:
        return True, (f"beats {active} on held-out synthetic views (recall@1 {new['recall_at_1']:.3f} > "
                      f"{old['recall_at_1']:.3f}, {new['views']} views)")
    return False, (f"does not beat {active} on held-out synthetic views (recall@1 {new['recall_at_1']:.3f} <= "
                   f"{old['recall_at_1']:.3f})")
