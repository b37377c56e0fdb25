"""Train a new pattern version end to end: pairs, head, held-out comparison, models/pattern/vN/ and its features."""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from swatch.catalog.db import Catalog, now_iso
from swatch.config import Settings
from swatch.features.store import (
    VERSION_RE,
    FeatureStore,
    FeatureStoreError,
    FeatureVersion,
)
from swatch.jobs import JobCancelled
from swatch.training import data as tdata
from swatch.training import label_free, neighbours
from swatch.training.commit import commit_version
from swatch.training.evaluate import rating_agreement
from swatch.training.head import HEAD_KIND, forward, head_transform
from swatch.training.trainer import TrainConfig

Progress = Callable[[float, str], None]
ACTIVATE_CHOICES = ("auto", "yes", "no")
TRAINABLE = ("pattern",)
MIN_HELDOUT_PAIRS = 10  # fewer held-out rating pairs than this cannot justify switching versions


def _finite(value: float) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer beyond any float
        return False


class TrainingError(ValueError):
    """Training cannot start: bad parameters or not enough data (a one-line reason)."""


@dataclass
class TrainParams:
    """What a training run may be told (CLI flags and the POST /api/train body share these names)."""

    model: str = "pattern"
    epochs: int = 30
    dim: int = 256
    hidden: int = 0
    margin: float = 0.1
    lr: float = 1e-3
    holdout: float = 0.2
    min_ratings: int = 20
    designs: bool = True
    augment: int = 64
    activate: str = "auto"
    base_version: str = "v1"
    seed: int = 0
    threads: int = 1
    mode: str = "ratings"  # ratings | catalogue (label-free: synthetic views, no rating needed)

    _RANGES = {
        "epochs": (1, 500), "dim": (8, 2048), "hidden": (0, 8192), "margin": (0.001, 1.0), "lr": (1e-6, 1.0),
        "holdout": (0.0, 0.9), "min_ratings": (1, 10_000_000), "augment": (0, 100_000), "seed": (0, 2**31 - 1),
        "threads": (1, 256),
    }

    def __post_init__(self) -> None:
        if self.model not in TRAINABLE:
            raise TrainingError(f"unknown or untrainable model {self.model!r}: only {', '.join(TRAINABLE)} is trained")
        if self.mode not in label_free.MODES:
            raise TrainingError(f"mode must be one of {', '.join(label_free.MODES)}")
        if self.activate not in ACTIVATE_CHOICES:
            raise TrainingError(f"activate must be one of {', '.join(ACTIVATE_CHOICES)}")
        if not VERSION_RE.match(str(self.base_version)):
            raise TrainingError(f"invalid base version {self.base_version!r}")
        for name, (lo, hi) in self._RANGES.items():
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise TrainingError(f"{name} must be between {lo} and {hi}, got {value}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TrainParams:
        """Checked construction from JSON-like data: unknown names and wrong types are TrainingErrors."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise TrainingError(f"unknown parameter(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            default = getattr(cls(), name)
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, int):
                ok = isinstance(value, int) and not isinstance(value, bool)
            elif isinstance(default, float):
                ok = isinstance(value, int | float) and not isinstance(value, bool) and _finite(value)
                value = float(value) if ok else value
            else:
                ok = isinstance(value, str)
            if not ok:
                raise TrainingError(f"{name} must be of type {type(default).__name__}")
            values[name] = value
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, dim=self.dim, hidden=self.hidden, margin=self.margin, lr=self.lr,
                           seed=self.seed, keep=label_free.KEEP if self.mode == "catalogue" else 0.0,
                           centre=self.mode == "catalogue")


@dataclass
class Prepared:
    """Everything read before training: the base rows and the ratings, split by query."""

    catalog: Catalog
    store: FeatureStore
    base: FeatureVersion
    row_of_id: dict[int, int]
    train: list[tdata.Rating]
    heldout: list[tdata.Rating]
    feedback_until: int


def prepare(settings: Settings, params: TrainParams, catalog: Catalog | None = None) -> Prepared:
    """Open the catalogue and base version, read and split the ratings; TrainingError when data is lacking."""
    if not settings.has_catalog:
        raise TrainingError("no catalogue yet: run extract_features.py first")
    catalog = catalog or Catalog(settings.database)
    store = FeatureStore(settings.features_dir)
    try:
        base = store.load(params.model, params.base_version)
    except FeatureStoreError as exc:
        raise TrainingError(f"feature version {params.model}/{params.base_version} is missing or unreadable:"
                            " run extract_features.py first") from exc
    if base.info.get("kind", "pretrained") != "pretrained":
        raise TrainingError(f"base version {params.model}/{params.base_version} is itself derived; train from v1")
    if len(base) < 3:
        raise TrainingError(f"only {len(base)} images in {params.model}/{params.base_version}: too few to train on")
    row_of_id = {int(i): k for k, i in enumerate(base.ids)}
    ratings, until = tdata.load_ratings(catalog, row_of_id, params.model)
    train, held = tdata.split_ratings(ratings, params.holdout)
    if params.mode == "catalogue":  # label-free: no rating is read for training (held-out ones are still reported)
        if len(base) < label_free.MIN_DESIGNS:
            raise TrainingError(f"a label-free run needs at least {label_free.MIN_DESIGNS} designs in "
                                f"{params.model}/{params.base_version}; the catalogue has {len(base)}")
        return Prepared(catalog, store, base, row_of_id, [], held, until)
    n_usable = tdata.usable(train)
    if n_usable < params.min_ratings:
        raise TrainingError(
            f"too few ratings: {n_usable} usable {params.model} ratings (1-2 or 4-5 stars) for training, "
            f"need at least {params.min_ratings} ({len(held)} more are held out for the comparison)"
        )
    if not any(r.rating >= tdata.POSITIVE_MIN for r in train) and params.augment == 0 and not (
            params.designs and _designs_repeat(catalog, base)):
        raise TrainingError("no training pairs: no training rating has 4-5 stars, "
                            + ("no design code has two colourways" if params.designs else "designs is off")
                            + " and augment is 0")
    return Prepared(catalog, store, base, row_of_id, train, held, until)


def _designs_repeat(catalog: Catalog, base: FeatureVersion) -> bool:
    """True when two images of the base version share a design code (design pairs can be made)."""
    seen: set[str] = set()
    for img in catalog.images_by_ids([int(i) for i in base.ids]).values():
        code = (img.design or "").strip().upper()
        if code and code in seen:
            return True
        seen.add(code)
    return False


@contextlib.contextmanager
def limited_threads(n: int) -> Iterator[None]:
    """Cap BLAS/OpenMP and torch threads for the duration (small matrices run faster on a busy CPU)."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        torch.set_num_threads(before)


def _quiet(progress: Progress | None) -> Progress:
    """A progress callback that no longer lets a cancel through (used once results are being written)."""

    def report(fraction: float, message: str) -> None:
        if progress is not None:
            with contextlib.suppress(JobCancelled):
                progress(fraction, message)

    return report


def _collect(prep: Prepared, params: TrainParams, rng: np.random.Generator, say: Progress) -> tuple[
        tdata.Examples, dict[str, Any], tdata.Views | None]:
    """Pairs from ratings, design codes and augmented views (label-free: strong views, some held out)."""
    builder = tdata.ExampleBuilder(dim=int(prep.base.features.shape[1]), n_base=len(prep.base))
    tdata.add_rating_pairs(builder, prep.train)
    neighbours.add_neighbour_pairs(builder, prep.base.features, prep.train)
    images = prep.catalog.images_by_ids([int(i) for i in prep.base.ids])
    if params.designs:
        tdata.add_design_pairs(builder, {prep.row_of_id[i]: img.design for i, img in images.items()}, rng)
    notes: dict[str, Any] = {"augmented": 0}
    heldout: tdata.Views | None = None
    if params.mode == "catalogue":
        heldout = _label_free_views(prep, params, builder, images, rng, say, notes)
    elif params.augment > 0:
        from swatch.features.base import get_extractor

        extractor = get_extractor(params.model)
        if not tdata.params_match(extractor.params(), prep.base.info.get("params")):
            notes["augment_skipped"] = "the pattern extractor's parameters differ from the base version's"
        else:
            paths = {prep.row_of_id[i]: img.full_path for i, img in images.items() if img.full_path.is_file()}
            notes["augmented"] = tdata.add_augmented_pairs(
                builder, paths, extractor.extract, params.augment, rng, decode_side=extractor.decode_side,
                progress=lambda f: say(0.05 + 0.15 * f, f"augmented views: {int(f * 100)} %"),
            )
    examples = builder.build()
    if examples.anchors.size == 0:
        raise TrainingError("no training pairs: the ratings hold no 4-5 star result and no design has two colourways")
    return examples, notes, heldout


def _label_free_views(
    prep: Prepared, params: TrainParams, builder: tdata.ExampleBuilder, images: Mapping[int, Any],
    rng: np.random.Generator, say: Progress, notes: dict[str, Any],
) -> tdata.Views:
    """Strong synthetic views of the catalogue: training ones become pairs, the held-out ones are returned."""
    from swatch.features.base import get_extractor

    extractor = get_extractor(params.model)
    if not tdata.params_match(extractor.params(), prep.base.info.get("params")):
        raise TrainingError("a label-free run needs views made like the base version's rows, but the pattern "
                            "extractor's parameters differ from them: re-ingest the catalogue first")
    paths = {prep.row_of_id[i]: img.full_path for i, img in images.items() if img.full_path.is_file()}
    if len(paths) < label_free.MIN_DESIGNS:
        raise TrainingError(f"a label-free run needs the image files of at least {label_free.MIN_DESIGNS} designs; "
                            f"{len(paths)} are readable")
    split = label_free.collect_views(paths, extractor.extract, rng, extractor.decode_side,
                                     progress=lambda f: say(0.05 + 0.15 * f, f"synthetic views: {int(f * 100)} %"))
    notes["augmented"] = tdata.add_view_pairs(builder, split.train)
    notes["heldout_views"] = int(len(split.heldout.sources))
    return split.heldout


def train_pattern_version(
    settings: Settings, params: TrainParams, progress: Progress | None = None, catalog: Catalog | None = None
) -> dict[str, Any]:
    """Train a head from ratings, design codes and augmentations; publish it as a new, inactive pattern version.

    The new version is activated when `params.activate` is "yes", or "auto" and it agrees better than the active
    version with held-out ratings. `progress(fraction, message)` may raise (JobCancelled) to stop the run until
    the results start being written; from then on the run completes. Returns the version's info.
    """
    say: Progress = progress or (lambda f, m: None)
    started = time.perf_counter()
    say(0.0, "reading ratings and features")
    prep = prepare(settings, params, catalog)
    model = params.model
    base_rows = np.asarray(prep.base.features, dtype=np.float32)
    rng = np.random.default_rng(params.seed)
    config = params.config()
    with limited_threads(params.threads):
        say(0.05, "collecting training pairs")
        examples, notes, views = _collect(prep, params, rng, say)
        t_train = time.perf_counter()
        from swatch.training.trainer import train_head

        out = train_head(base_rows, examples, config, progress=lambda e, loss: say(
            0.2 + 0.7 * e / config.epochs, f"epoch {e}/{config.epochs}: loss {loss:.4f}"))
        train_seconds = time.perf_counter() - t_train
        say(0.9, "comparing with the active version on held-out ratings")
        new_rows = forward(out.weights, base_rows)
    active = prep.catalog.active_version(model) or params.base_version
    metrics = {"heldout": {params.base_version: rating_agreement(base_rows, prep.base.ids, prep.heldout)},
               "train": {params.base_version: rating_agreement(base_rows, prep.base.ids, prep.train),
                         "new": rating_agreement(new_rows, prep.base.ids, prep.train)}}
    metrics["heldout"]["new"] = rating_agreement(new_rows, prep.base.ids, prep.heldout)
    if active != params.base_version and prep.store.exists(model, active):
        act = prep.store.load(model, active)
        metrics["heldout"][active] = rating_agreement(np.asarray(act.features), act.ids, prep.heldout)
    if views is not None:
        metrics["views"] = _view_metrics(prep, views, base_rows, new_rows, out.weights, active, params.base_version)
        activated, reason = label_free.decide(params.activate, metrics["views"], active)
    else:
        activated, reason = _decide(params.activate, metrics["heldout"], active)
    info: dict[str, Any] = {
        "model": model, "kind": HEAD_KIND, "extractor": model, "base_version": params.base_version,
        "base": {"params": prep.base.info.get("params"), "weights_sha256": prep.base.info.get("weights_sha256"),
                 "count": len(prep.base), "dim": int(base_rows.shape[1])},
        "data": {
            "ratings_train": len(prep.train), "ratings_heldout": len(prep.heldout),
            "usable_train": tdata.usable(prep.train),
            "queries_train": len({r.query_id for r in prep.train}),
            "queries_heldout": len({r.query_id for r in prep.heldout}),
            "feedback_until_id": prep.feedback_until,
            "pairs": examples.counts,
            "pairs_total": int(examples.anchors.size),
            "hard_negatives": examples.hard_negative_count,
            **notes,
        },
        "params": params.to_dict(), "config": config.to_dict(), "epochs": config.epochs, "loss_curve": out.loss_curve,
        "metrics": metrics, "compared_with": active,
        "decision": {"activate": params.activate, "activated": activated, "reason": reason},
        "created": now_iso(), "seconds": {"train": round(train_seconds, 2)},
    }
    return commit_version(settings, prep.catalog, prep.store, model, out.weights, info, activated, started,
                          _quiet(progress))


def _view_metrics(
    prep: Prepared, views: tdata.Views, base_rows: np.ndarray, new_rows: np.ndarray, weights: Mapping[str, Any],
    active: str, base_version: str,
) -> dict[str, dict[str, Any]]:
    """Held-out view recall of the base version, the new one and the active one (when it is a trained head)."""
    out = {base_version: label_free.view_recall(base_rows, views.features, views.sources),
           "new": label_free.view_recall(new_rows, forward(weights, views.features), views.sources)}
    if active != base_version and prep.store.exists(prep.base.model, active):
        act = prep.store.load(prep.base.model, active)
        if act.info.get("kind") == HEAD_KIND and np.array_equal(np.asarray(act.ids), np.asarray(prep.base.ids)):
            out[active] = label_free.view_recall(np.asarray(act.features), head_transform(act.info, views.features),
                                                 views.sources)
    return out


def _decide(mode: str, heldout: dict[str, dict[str, Any]], active: str) -> tuple[bool, str]:
    new, old = heldout["new"], heldout.get(active, {})
    if mode == "yes":
        return True, "activation requested"
    if mode == "no":
        return False, "activation not requested"
    if new["pairs"] < MIN_HELDOUT_PAIRS or new["agreement"] is None or old.get("agreement") is None:
        return False, f"too few held-out ratings to compare ({new['pairs']} pairs, need {MIN_HELDOUT_PAIRS})"
    if new["agreement"] > old["agreement"]:
        return True, f"beats {active} on held-out ratings ({new['agreement']:.3f} > {old['agreement']:.3f})"
    return False, f"does not beat {active} on held-out ratings ({new['agreement']:.3f} <= {old['agreement']:.3f})"


def version_info(settings: Settings, model: str, version: str) -> dict[str, Any] | None:
    """models/<model>/<version>/info.json, or None for versions that were not trained."""
    path = settings.models_dir / model / version / "info.json"
    if not VERSION_RE.match(version) or not path.is_file():
        return None
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded


def list_versions(
    settings: Settings, model: str = "pattern", catalog: Catalog | None = None
) -> list[dict[str, Any]]:
    """Every version of `model`: active flag, kind, and for trained ones data used, epochs, loss curve, metrics."""
    from swatch.catalog.feedback import summary

    catalog = catalog or Catalog(settings.database)
    ratings = {s["version"]: {k: s[k] for k in ("count", "mean", "stars")} for s in summary(catalog, recent=0)
               if s["model"] == model}
    out = []
    for entry in catalog.model_versions(model):
        trained = version_info(settings, model, entry["version"])
        item = {"model": model, "version": entry["version"], "active": entry["active"],
                "created_at": entry["created_at"], "kind": entry["info"].get("kind", "pretrained"),
                "ratings": ratings.get(entry["version"], {"count": 0, "mean": None, "stars": {}})}
        if trained is not None:
            item.update({k: trained.get(k) for k in ("base_version", "data", "params", "epochs", "loss_curve",
                                                     "metrics", "decision", "seconds", "compared_with")})
        else:
            item["params"] = {k: v for k, v in entry["info"].items() if k != "kind"}
        out.append(item)
    return out
