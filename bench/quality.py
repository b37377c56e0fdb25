"""Retrieval quality benchmark: P@10 / mAP@10 of the plain approach beside the tuned colour and pattern models.

Protocol (DESIGN.md, Evaluation data): every image of a dataset is a query against the whole dataset, the query
itself left out; a result is relevant when its `all_classes` shares a label with the query's (colour: the same
`color`); rows flagged in `near_dup_of` stay in the gallery but are not queries. The colourway test recolours source
designs (hue rotation, palette swaps) and moves them (crop, rescale, flips, 90-degree turns, JPEG re-compression);
there the relevant results of a query are the other images made from the same source, and recall@10 is reported.

Features are cached per (extractor parameters, weights, image list) under --cache (default /tmp), so a second run
only evaluates. Prints one JSON document.

    python bench/quality.py [--datasets DIR] [--only pattern|color] [--configs plain,default] [--limit N]
                            [--compact 256[,128]] [--fit-rows 256,512] [--sets a,b]

Compact rows (`--compact`, default 256): the default rows projected on their top principal directions fitted on
the set itself without labels (what `swatch ingest --compact` does), reported as `<model>-compact-<dims>` beside the
full rows with the p@10 (colourway: recall@10) difference; `--fit-rows` fits on a random subset only.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from swatch.features.base import Extractor, get_extractor, l2_normalise
from swatch.features.projection import fit as fit_projection
from swatch.images import open_image

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_DATASETS = ROOT.parent / "shared" / "datasets"
DEFAULT_CACHE = Path("/tmp/swatch-bench-quality")
PATTERN_SETS = ("fashion-texture", "dtd-subset", "batik-motifs", "sanderson-designs")
COLOUR_SET = "fashion-products"
#: colourway sources: flat designs and close-up cloth (garment photos of fashion-texture are not turned 90 degrees)
COLOURWAY_SETS = ("dtd-subset", "batik-motifs", "sanderson-designs")
K = 10
# DESIGN.md's plain-approach figures and issue 5's targets (P@10; colourway: recall@10)
REFERENCE = {"fashion-texture": 0.49, "dtd-subset": 0.89, "batik-motifs": 0.58, "sanderson-designs": 0.55,
             "fashion-products-apparel": 0.47}
TARGET = {"fashion-texture": 0.58, "dtd-subset": 0.93, "batik-motifs": 0.66, "sanderson-designs": 0.62,
          "fashion-products-apparel": 0.60, "colourway": 0.95}


# ----------------------------------------------------------------------------------------------- data


@dataclass
class LabelledSet:
    """Images of one evaluation set with their label sets; `query` False for rows that must not be queries."""

    name: str
    paths: list[Path]
    labels: list[frozenset[str]]
    query: np.ndarray
    images: list[Image.Image] | None = None  # in-memory images (the colourway test); paths are then names only

    def key(self) -> str:
        names = "\n".join(p.as_posix() for p in self.paths)
        return hashlib.sha1(f"{self.name}\n{names}".encode()).hexdigest()[:16]


def load_set(root: Path, name: str, limit: int = 0) -> LabelledSet:
    """A pattern dataset (labels from `all_classes`) or fashion-products apparel (labels = base colour)."""
    folder = root / name
    with open(folder / "labels.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if name == COLOUR_SET:
        rows = [r for r in rows if r.get("master_category") == "Apparel" and r.get("color")]
        labels = [frozenset([r["color"]]) for r in rows]
        name = f"{COLOUR_SET}-apparel"
    else:
        labels = [frozenset(c for c in r["all_classes"].split("|") if c) for r in rows]
    query = np.array([not r.get("near_dup_of") and bool(lab) for r, lab in zip(rows, labels, strict=True)])
    paths = [folder / r["file"] for r in rows]
    if limit:
        step = max(1, len(rows) // limit)
        keep = list(range(0, len(rows), step))[:limit]
        paths, labels, query = [paths[i] for i in keep], [labels[i] for i in keep], query[keep]
    return LabelledSet(name, paths, labels, query)


# ------------------------------------------------------------------------------------------ metrics


def retrieval_metrics(feats: np.ndarray, labels: Sequence[frozenset[str]], query: np.ndarray, k: int = K
                      ) -> dict[str, float]:
    """Mean P@k and mAP@k (AP@k normalised by min(k, relevant in gallery)) by cosine, the query left out."""
    x = l2_normalise(feats)
    vocab = sorted(set().union(*labels))
    onehot = np.zeros((len(labels), len(vocab)), np.float32)
    for i, lab in enumerate(labels):
        for c in lab:
            onehot[i, vocab.index(c)] = 1.0
    q_idx = np.flatnonzero(query)
    precisions, aps = [], []
    for start in range(0, len(q_idx), 256):
        qi = q_idx[start:start + 256]
        sims = x[qi] @ x.T
        sims[np.arange(len(qi)), qi] = -np.inf
        top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        rel_all = (onehot[qi] @ onehot.T) > 0
        rel_all[np.arange(len(qi)), qi] = False
        rel = np.take_along_axis(rel_all, top, axis=1).astype(np.float64)
        n_rel = rel_all.sum(axis=1)
        prec_at = np.cumsum(rel, axis=1) / np.arange(1, k + 1)
        denom = np.maximum(np.minimum(n_rel, k), 1)
        precisions.extend(rel.mean(axis=1))
        aps.extend((prec_at * rel).sum(axis=1) / denom)
    return {"p@10": round(float(np.mean(precisions)), 4), "map@10": round(float(np.mean(aps)), 4),
            "queries": len(q_idx), "gallery": len(labels)}


def recall_at_k(feats: np.ndarray, groups: np.ndarray, k: int = K) -> float:
    """Mean share of a query's same-group images found in its top k (the query itself left out)."""
    x = l2_normalise(feats)
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    same = groups[top] == groups[:, None]
    sizes = np.bincount(groups)[groups] - 1
    return round(float(np.mean(same.sum(axis=1) / np.minimum(np.maximum(sizes, 1), k))), 4)


# ---------------------------------------------------------------------------------- colourway test


def _jpeg(arr: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def hue_rotate(arr: np.ndarray, degrees: float, saturation: float = 1.0) -> np.ndarray:
    """Rotate every hue by `degrees` (HSV), scaling saturation: a recolouring that keeps the drawing."""
    hsv = cv2.cvtColor(arr, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + degrees * 256.0 / 360.0) % 256.0
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 255)
    return cv2.cvtColor(hsv.round().astype(np.uint8), cv2.COLOR_HSV2RGB_FULL)


def palette_swap(arr: np.ndarray, rng: np.random.Generator, colours: int = 5) -> np.ndarray:
    """A new colourway: k-means the image into Lab colours and give each a new random colour.

    The new colours keep the lightness order and roughly the contrast of the old ones (a ground stays darker than its
    motif), the way a colourist re-colours a design; shading inside each colour is kept at reduced strength.
    """
    lab = cv2.cvtColor(arr.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    flat = lab.reshape(-1, 3)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 15, 0.5)
    cv2.setRNGSeed(int(rng.integers(1 << 30)))
    _, assign, centres = cv2.kmeans(flat, colours, None, criteria, 1, cv2.KMEANS_PP_CENTERS)  # type: ignore[call-overload]
    assign = assign.ravel()
    old_l = centres[:, 0]
    new_l = np.clip(rng.uniform(25, 75) + (old_l - old_l.mean()) * rng.uniform(0.7, 1.4), 5, 97)
    chroma = rng.uniform(10, 60, colours)
    angle = rng.uniform(0, 2 * np.pi, colours)
    new = np.stack([new_l, chroma * np.cos(angle), chroma * np.sin(angle)], axis=1).astype(np.float32)
    out = new[assign] + 0.5 * (flat - centres[assign])
    rgb = cv2.cvtColor(out.reshape(lab.shape).astype(np.float32), cv2.COLOR_Lab2RGB)
    return (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)


def _crop(arr: np.ndarray, rng: np.random.Generator, keep: tuple[float, float] = (0.6, 0.9)) -> np.ndarray:
    h, w = arr.shape[:2]
    frac = np.sqrt(rng.uniform(*keep))
    ch, cw = max(16, int(h * frac)), max(16, int(w * frac))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return arr[y:y + ch, x:x + cw]


def _rescale(arr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    s = rng.uniform(0.7, 1.4)
    h, w = arr.shape[:2]
    return cv2.resize(arr, (max(16, int(w * s)), max(16, int(h * s))), interpolation=cv2.INTER_AREA)


#: each variant of a source: (name, recolour, moves)
VARIANTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("hue+crop", "hue", ("crop", "rescale")),
    ("palette+mirror", "palette", ("hflip",)),
    ("hue+rot90", "hue", ("rot90", "crop")),
    ("palette+rot+flip", "palette", ("rot270", "vflip", "crop", "rescale")),
)


def make_variant(arr: np.ndarray, recolour: str, moves: Sequence[str], rng: np.random.Generator) -> np.ndarray:
    """One recoloured, moved and JPEG re-compressed copy of an RGB array."""
    out = hue_rotate(arr, rng.uniform(60, 300), rng.uniform(0.7, 1.3)) if recolour == "hue" \
        else palette_swap(arr, rng)
    for move in moves:
        if move == "crop":
            out = _crop(out, rng)
        elif move == "rescale":
            out = _rescale(out, rng)
        elif move == "hflip":
            out = out[:, ::-1]
        elif move == "vflip":
            out = out[::-1]
        elif move.startswith("rot"):
            out = np.rot90(out, k=int(move[3:]) // 90)
    return _jpeg(np.ascontiguousarray(out), int(rng.integers(60, 91)))


def colourway_set(root: Path, per_set: int = 50, seed: int = 5) -> tuple[LabelledSet, np.ndarray, list[str]]:
    """Sources drawn evenly from COLOURWAY_SETS, each with its VARIANTS: (set, group per image, kind)."""
    rng = np.random.default_rng(seed)
    images: list[Image.Image] = []
    names: list[Path] = []
    groups: list[int] = []
    kinds: list[str] = []
    for name in COLOURWAY_SETS:
        src = load_set(root, name)
        picks = rng.choice(len(src.paths), size=min(per_set, len(src.paths)), replace=False)
        for i in sorted(int(p) for p in picks):
            arr = np.asarray(open_image(src.paths[i]))
            group = len(set(groups))
            images.append(Image.fromarray(arr))
            names.append(src.paths[i])
            groups.append(group)
            kinds.append("source")
            for vname, recolour, moves in VARIANTS:
                images.append(Image.fromarray(make_variant(arr, recolour, moves, rng)))
                names.append(src.paths[i].with_name(f"{src.paths[i].stem}~{vname}"))
                groups.append(group)
                kinds.append(vname)
    labels = [frozenset([str(g)]) for g in groups]
    data = LabelledSet("colourway", names, labels, np.ones(len(names), bool), images)
    return data, np.array(groups), kinds


# --------------------------------------------------------------------------------------- extractors


class RGBHistogram(Extractor):
    """The plain colour approach: an 8x8x8 RGB histogram of the whole image, compared by cosine."""

    name = "rgb-hist"
    decode_side = 128

    def __init__(self, bins: int = 8):
        self.bins = bins
        self.dim = bins**3

    def _extract(self, images: list[Image.Image]) -> np.ndarray:
        rows = []
        for img in images:
            arr = np.asarray(img.resize((64, 64), Image.Resampling.BILINEAR), dtype=np.int64) * self.bins // 256
            idx = (arr[..., 0] * self.bins + arr[..., 1]) * self.bins + arr[..., 2]
            rows.append(np.bincount(idx.ravel(), minlength=self.dim).astype(np.float32))
        return np.stack(rows)

    def params(self) -> dict[str, Any]:
        return {"bins": self.bins, "space": "RGB"}


#: config name -> model -> factory. "plain" is DESIGN.md's reference approach; "default" the shipped models.
CONFIGS: dict[str, dict[str, Callable[[], Extractor]]] = {
    "plain": {
        "pattern": lambda: get_extractor("pattern", layers=("head",), gem_p=1.0, views=("rgb",), trim=False,
                                         centre=False),
        "color": RGBHistogram,
    },
    "default": {"pattern": lambda: get_extractor("pattern"), "color": lambda: get_extractor("color")},
}


def features(ex: Extractor, data: LabelledSet, cache: Path, batch: int = 32) -> tuple[np.ndarray, float]:
    """Rows of `ex` for every image of `data` (decoded as ingest does), cached by parameters and image list."""
    spec = json.dumps({"name": ex.name, "params": ex.params(), "weights": ex.weights_hash()}, sort_keys=True)
    key = hashlib.sha1(spec.encode()).hexdigest()[:16]
    path = cache / f"{data.name}-{data.key()}-{ex.name}-{key}.npy"
    if path.is_file():
        return np.load(path), 0.0
    start = time.perf_counter()
    parts = []
    for i in range(0, len(data.paths), batch):
        if data.images is not None:
            pics = data.images[i:i + batch]
        else:
            pics = [open_image(p, draft_side=ex.decode_side) for p in data.paths[i:i + batch]]
        parts.append(ex.extract(pics))
    rows = np.concatenate(parts)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, rows)
    tmp.replace(path)
    (cache / f"{path.stem}.json").write_text(spec)
    return rows, time.perf_counter() - start


# ---------------------------------------------------------------------------------------------- run


def compact_rows(rows: np.ndarray, dims: int, fit_rows: int = 0, seed: int = 3) -> tuple[np.ndarray, float]:
    """Rows projected on `dims` principal directions fitted on the set itself (on `fit_rows` random rows when
    given, as a young catalogue would be), L2-normalised; and the share of variance kept."""
    fit_on = rows
    if 0 < fit_rows < len(rows):
        fit_on = rows[np.random.default_rng(seed).choice(len(rows), fit_rows, replace=False)]
    proj = fit_projection(fit_on, min(dims, len(fit_on) - 1, rows.shape[1]))
    return l2_normalise(proj.apply(rows)), proj.variance_kept


def _metrics(rows: np.ndarray, data: LabelledSet, groups: np.ndarray) -> dict[str, Any]:
    if data.name == "colourway":
        return {"recall@10": recall_at_k(rows, groups)}
    return retrieval_metrics(rows, data.labels, data.query)


def run(root: Path, cache: Path, configs: Sequence[str], only: str | None = None, limit: int = 0,
        colourway_per_set: int = 50, compact: Sequence[int] = (), fit_rows: Sequence[int] = (),
        only_sets: Sequence[str] = ()) -> dict[str, Any]:
    """The whole table: {config: {model: {dataset: metrics}}}, plus references, targets and timings."""
    sets: dict[str, list[LabelledSet]] = {"pattern": [], "color": []}
    groups = np.zeros(0, np.int64)
    kinds: list[str] = []
    if only in (None, "pattern"):
        sets["pattern"] = [load_set(root, n, limit) for n in PATTERN_SETS
                           if (root / n / "labels.csv").is_file() and (not only_sets or n in only_sets)]
        if not only_sets or "colourway" in only_sets:
            cw, groups, kinds = colourway_set(root, per_set=colourway_per_set)
            sets["pattern"].append(cw)
    if only in (None, "color") and (root / COLOUR_SET / "labels.csv").is_file() and (
            not only_sets or COLOUR_SET in only_sets):
        sets["color"] = [load_set(root, COLOUR_SET, limit)]
    out: dict[str, Any] = {"protocol": "P@10 and mAP@10 by cosine, each image a query (near-duplicates not), "
                           "relevant = shares a label; colourway: recall@10 of the same source's images",
                           "reference_plain_design_md": REFERENCE, "targets": TARGET, "results": {}, "params": {},
                           "extract_seconds": {}}
    for config in configs:
        for model, data_list in sets.items():
            if not data_list:
                continue
            ex = CONFIGS[config][model]()
            out["params"].setdefault(config, {})[model] = {"name": ex.name, "dim": ex.dim, **ex.params()}
            for data in data_list:
                rows, secs = features(ex, data, cache)
                if secs:
                    out["extract_seconds"][f"{config}/{model}/{data.name}"] = round(secs, 1)
                res: dict[str, Any] = dict(retrieval_metrics(rows, data.labels, data.query))
                if data.name == "colourway":
                    res = {"recall@10": recall_at_k(rows, groups), "sources": int(groups.max()) + 1,
                           "images": len(groups)}
                    kind_arr = np.array(kinds)
                    res["by_variant_top1_same_source"] = _top1_by_kind(rows, groups, kind_arr)
                out["results"].setdefault(config, {}).setdefault(model, {})[data.name] = res
                for dims in compact if config == "default" else ():
                    for n in [0, *fit_rows]:
                        if n >= len(rows):
                            continue
                        small, kept = compact_rows(rows, dims, n)
                        name = f"{model}-compact-{dims}" + (f"-fit{n}" if n else "")
                        entry = dict(_metrics(small, data, groups), variance_kept=round(kept, 4))
                        score = "recall@10" if data.name == "colourway" else "p@10"
                        entry["full_p10_delta"] = round(float(entry[score]) - float(res[score]), 4)
                        out["results"].setdefault(config, {}).setdefault(name, {})[data.name] = entry
    return out


def _top1_by_kind(rows: np.ndarray, groups: np.ndarray, kinds: np.ndarray) -> dict[str, float]:
    """For each variant kind: how often its nearest other image comes from the same source."""
    x = l2_normalise(rows)
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    hit = groups[np.argmax(sims, axis=1)] == groups
    return {str(k): round(float(hit[kinds == k].mean()), 4) for k in sorted(set(kinds.tolist()))}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--configs", default="plain,default", help="comma list of: " + ", ".join(CONFIGS))
    parser.add_argument("--only", choices=("pattern", "color"))
    parser.add_argument("--limit", type=int, default=0, help="images per dataset (0: all); for quick looks")
    parser.add_argument("--colourway-per-set", type=int, default=50, help="colourway sources per set")
    parser.add_argument("--compact", default="256", help="comma list of projection dimensions to compare with "
                        "the full default rows (fitted on each set itself); empty: none")
    parser.add_argument("--sets", default="", help="comma list of datasets (and/or colourway) to run; "
                        "default: all present")
    parser.add_argument("--fit-rows", default="", help="comma list: also fit the projection on only this many "
                        "random rows of each set (when to fit a young catalogue)")
    args = parser.parse_args(argv)
    configs = [c for c in args.configs.split(",") if c]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown or not args.datasets.is_dir():
        print(f"error: unknown config {unknown}" if unknown else f"error: no datasets at {args.datasets}",
              file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(2)
    compact = [int(d) for d in args.compact.split(",") if d]
    fit_rows = [int(n) for n in args.fit_rows.split(",") if n]
    result = run(args.datasets, args.cache, configs, args.only, args.limit, args.colourway_per_set, compact,
                 fit_rows, [n for n in args.sets.split(",") if n])
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
