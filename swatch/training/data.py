"""Training pairs for the pattern head: designers' ratings, shared design codes and augmented views of one image."""

from __future__ import annotations

import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from swatch.catalog.db import Catalog
from swatch.catalog.feedback import ratings_of
from swatch.images import ImageError, open_image

POSITIVE_MIN = 4  # 4-5 stars: the result looks like the query
NEGATIVE_MAX = 2  # 1-2 stars: it does not
MAX_DESIGN_GROUP = 24  # larger design groups are sampled down to this many members


@dataclass(frozen=True)
class Rating:
    """The mean rating of one (query, result) pair, as catalogue ids and base-row positions."""

    query_id: int
    result_id: int
    query_row: int
    result_row: int
    rating: float
    count: int


def load_ratings(catalog: Catalog, row_of_id: dict[int, int], model: str = "pattern") -> tuple[list[Rating], int]:
    """Ratings given to `model` results whose query and result both have base rows; repeats averaged.

    Returns the ratings and the id of the newest feedback row read (0 when there is none).
    """
    sums: dict[tuple[int, int], list[float]] = defaultdict(list)
    last = 0
    for fb in ratings_of(catalog, model):
        last = max(last, fb.id)
        qid, rid = fb.query_id, fb.result_id
        if qid is None or rid is None or qid == rid:
            continue
        if int(qid) in row_of_id and int(rid) in row_of_id:
            sums[(int(qid), int(rid))].append(float(fb.rating))
    out = [
        Rating(q, r, row_of_id[q], row_of_id[r], float(np.mean(v)), len(v)) for (q, r), v in sorted(sums.items())
    ]
    return out, last


def is_heldout(query_id: int, fraction: float, salt: str = "swatch-holdout") -> bool:
    """A stable split by query: the same query is always held out (or never), whatever else was rated."""
    if fraction <= 0:
        return False
    digest = hashlib.sha256(f"{salt}:{int(query_id)}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


def split_ratings(ratings: Sequence[Rating], fraction: float) -> tuple[list[Rating], list[Rating]]:
    """(training ratings, held-out ratings), split by query."""
    train = [r for r in ratings if not is_heldout(r.query_id, fraction)]
    held = [r for r in ratings if is_heldout(r.query_id, fraction)]
    return train, held


def usable(ratings: Sequence[Rating]) -> int:
    """How many ratings say something for training (positive or negative, not 3 stars)."""
    return sum(1 for r in ratings if r.rating >= POSITIVE_MIN or r.rating <= NEGATIVE_MAX)


@dataclass
class Examples:
    """Weighted (anchor, positive) row pairs plus known hard negatives per anchor.

    Row indices point into the base rows followed by `extra_rows` (augmented views); negatives are catalogue rows.
    """

    anchors: np.ndarray
    positives: np.ndarray
    weights: np.ndarray
    hard_negatives: dict[int, np.ndarray]
    extra_rows: np.ndarray
    counts: dict[str, int]
    hard_negative_count: int = 0


@dataclass
class ExampleBuilder:
    """Collects pairs from several sources, then `build()`s the arrays the trainer reads."""

    dim: int
    pairs: list[tuple[int, int, float]] = field(default_factory=list)
    negatives: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    extra: list[np.ndarray] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    n_base: int = 0
    hard_negative_count: int = 0

    def add_pair(self, anchor: int, positive: int, weight: float, source: str) -> None:
        if anchor != positive:
            self.pairs.append((anchor, positive, weight))
            self.counts[source] += 1

    def add_extra_row(self, row: np.ndarray) -> int:
        self.extra.append(np.asarray(row, dtype=np.float32))
        return self.n_base + len(self.extra) - 1

    def build(self) -> Examples:
        arr = np.array(self.pairs, dtype=np.float64).reshape(-1, 3)
        extra = np.stack(self.extra) if self.extra else np.zeros((0, self.dim), np.float32)
        return Examples(
            anchors=arr[:, 0].astype(np.int64), positives=arr[:, 1].astype(np.int64),
            weights=arr[:, 2].astype(np.float32),
            hard_negatives={a: np.array(sorted(n), dtype=np.int64) for a, n in self.negatives.items() if n},
            extra_rows=extra, counts=dict(self.counts), hard_negative_count=self.hard_negative_count,
        )


def add_rating_pairs(builder: ExampleBuilder, ratings: Sequence[Rating], co_weight: float = 0.5) -> None:
    """Positives both ways round, results liked for one query as (weaker) positives of each other, and each
    query's disliked results as hard negatives for the query and for its liked results."""
    liked: dict[int, set[int]] = defaultdict(set)
    disliked: dict[int, set[int]] = defaultdict(set)
    for r in ratings:
        if r.rating >= POSITIVE_MIN:
            liked[r.query_row].add(r.result_row)
        elif r.rating <= NEGATIVE_MAX:
            disliked[r.query_row].add(r.result_row)
    for q, pos in liked.items():
        for p in sorted(pos):
            builder.add_pair(q, p, 1.0, "rating_pairs")
            builder.add_pair(p, q, 1.0, "rating_pairs")
        if co_weight > 0:
            members = sorted(pos)
            for a in members:
                for b in members:
                    builder.add_pair(a, b, co_weight, "co_liked_pairs")
    for q, neg in disliked.items():
        builder.negatives[q].update(neg)
        for p in liked.get(q, ()):
            builder.negatives[p].update(neg - liked[q])
        builder.hard_negative_count += len(neg)


def add_design_pairs(
    builder: ExampleBuilder, designs: dict[int, str | None], rng: np.random.Generator
) -> None:
    """Colourways of one design code are pattern positives of each other (`designs`: base row -> design code)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for row, code in designs.items():
        if code:
            groups[code.strip().upper()].append(row)
    for members in groups.values():
        if len(members) < 2:
            continue
        if len(members) > MAX_DESIGN_GROUP:
            members = sorted(rng.choice(members, MAX_DESIGN_GROUP, replace=False).tolist())
        for a in members:
            for b in members:
                builder.add_pair(a, b, 1.0, "design_pairs")


def augment(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Another view of the same design: crop, quarter turn, mirror, another colourway (hue turn, channel swap)
    and a JPEG round trip."""
    w, h = img.size
    scale = float(np.sqrt(rng.uniform(0.5, 1.0)))
    cw, ch = max(16, int(w * scale)), max(16, int(h * scale))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    out = img.crop((x0, y0, x0 + cw, y0 + ch))
    out = out.rotate(90 * int(rng.integers(0, 4)), expand=True)
    if rng.random() < 0.5:
        out = ImageOps.mirror(out)
    hsv = np.asarray(out.convert("HSV"), dtype=np.int16)
    hsv[..., 0] = (hsv[..., 0] + int(rng.integers(32, 224))) % 256
    out = Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB")
    arr = np.asarray(out)[..., rng.permutation(3)]
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr), "RGB").save(buf, "JPEG", quality=int(rng.integers(60, 92)))
    return open_image(buf.getvalue())


def augment_strong(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """`augment`, then what a photo of the printed cloth adds: another scale, some blur, uneven light."""
    out = augment(img, rng)
    w, h = out.size
    scale = float(rng.uniform(0.6, 1.0))
    out = out.resize((max(16, int(w * scale)), max(16, int(h * scale))), Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        out = out.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.5, 1.5))))
    arr = np.asarray(out, dtype=np.float32)
    angle = float(rng.uniform(0, 2 * np.pi))
    ys, xs = np.mgrid[0:arr.shape[0], 0:arr.shape[1]]
    ramp = (np.cos(angle) * xs / max(arr.shape[1], 1) + np.sin(angle) * ys / max(arr.shape[0], 1))
    light = 0.75 + 0.4 * (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    return Image.fromarray(np.clip(arr * light[..., None], 0, 255).astype(np.uint8), "RGB")


@dataclass
class Views:
    """Features of augmented views (one per source) and the base rows they were made from."""

    sources: np.ndarray
    features: np.ndarray


def augmented_views(
    paths: dict[int, Any], chosen: Sequence[int], extract: Callable[[list[Image.Image]], np.ndarray],
    rng: np.random.Generator, decode_side: int = 256, batch: int = 16,
    progress: Callable[[float], None] | None = None,
    view: Callable[[Image.Image, np.random.Generator], Image.Image] = augment,
) -> Views:
    """One view of each chosen base row (`paths`: base row -> file), extracted in batches; unreadable files skipped."""
    sources: list[int] = []
    feats: list[np.ndarray] = []
    for start in range(0, len(chosen), batch):
        part = chosen[start : start + batch]
        imgs: list[Image.Image] = []
        kept: list[int] = []
        for row in part:
            try:
                imgs.append(view(open_image(paths[row], draft_side=decode_side), rng))
                kept.append(row)
            except (ImageError, OSError):
                continue
        if imgs:
            feats.append(np.asarray(extract(imgs), dtype=np.float32))
            sources.extend(kept)
        if progress is not None:
            progress(min(1.0, (start + len(part)) / max(len(chosen), 1)))
    dim = feats[0].shape[1] if feats else 0
    return Views(np.array(sources, dtype=np.int64), np.concatenate(feats) if feats else np.zeros((0, dim), np.float32))


def add_view_pairs(builder: ExampleBuilder, views: Views) -> int:
    """Each view and its original are a positive pair, both ways round; returns how many views were added."""
    for row, feat in zip(views.sources.tolist(), views.features, strict=True):
        idx = builder.add_extra_row(feat)
        builder.add_pair(idx, row, 1.0, "augmented_pairs")
        builder.add_pair(row, idx, 1.0, "augmented_pairs")
    return len(views.sources)


def add_augmented_pairs(
    builder: ExampleBuilder,
    paths: dict[int, Any],
    extract: Callable[[list[Image.Image]], np.ndarray],
    count: int,
    rng: np.random.Generator,
    decode_side: int = 256,
    batch: int = 16,
    progress: Callable[[float], None] | None = None,
) -> int:
    """Extract features of one augmented view for up to `count` sampled images (base row -> file path); each
    view and its original are a positive pair. Returns how many views were added (unreadable files skipped)."""
    rows = sorted(paths)
    if count <= 0 or not rows:
        return 0
    chosen = sorted(rng.choice(rows, min(count, len(rows)), replace=False).tolist())
    views = augmented_views(paths, chosen, extract, rng, decode_side, batch, progress)
    return add_view_pairs(builder, views)


def params_match(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Whether two extractor parameter sets are the same (as stored in info.json)."""
    return json.dumps(a or {}, sort_keys=True, default=str) == json.dumps(b or {}, sort_keys=True, default=str)
