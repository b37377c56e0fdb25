"""Within one search: P@10 before and after marking results, and the refined search's server-side latency.

Quality, per dataset (the pattern rows of bench/quality.py, same cache): every image is a query against the rest;
the designer marks the first three relevant and the first three irrelevant designs of its top 100 (the simulated
rater of DESIGN.md: relevant when a label is shared); the query is moved by `swatch.search.refine.moved_query`
(the code the server runs) and the list ranked again. P@10 is counted on the designs the designer has NOT marked
yet (`residual`: the marked six left out of both lists, so the marks cannot score themselves) and on the list as the
page shows it (`shown`: liked designs kept, disliked ones left out). Queries whose top 100 lacks three of either
kind are not counted (reported).

Latency: a synthetic catalogue of --rows designs with pattern rows of the real dimension, the real server, and
POST /find-similar/refine with three liked and three disliked designs; the view's X-Elapsed-Ms is server time.
Prints one JSON document.

    .venv/bin/python bench/refine.py [--sets a,b] [--rows 20000] [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from quality import DEFAULT_CACHE, DEFAULT_DATASETS, PATTERN_SETS, LabelledSet, features, load_set

from swatch.config import Settings
from swatch.features.base import get_extractor
from swatch.search.refine import moved_query
from swatch.testing.load import Client, pct
from swatch.testing.server import start_server
from swatch.testing.synthetic import synthetic_catalogue

K, DEPTH, MARKS = 10, 100, 3


def _p_at_k(order: np.ndarray, relevant: np.ndarray, k: int = K) -> float:
    return float(relevant[order[:k]].mean()) if len(order) >= k else float("nan")


def refine_quality(rows: np.ndarray, data: LabelledSet) -> dict[str, Any]:
    """Mean P@10 before/after three yes and three no marks, over every query that can be marked so."""
    sims = rows @ rows.T
    before_res, after_res, before_shown, after_shown = [], [], [], []
    skipped = 0
    for q in np.flatnonzero(data.query):
        rel = np.array([bool(data.labels[q] & lab) for lab in data.labels])
        order = np.argsort(-sims[q], kind="stable")
        order = order[order != q]
        top = order[:DEPTH]
        liked, disliked = top[rel[top]][:MARKS], top[~rel[top]][:MARKS]
        if len(liked) < MARKS or len(disliked) < MARKS:
            skipped += 1
            continue
        query = moved_query(rows[[q]], rows[liked], rows[disliked])
        again = np.argsort(-(rows @ query), kind="stable")
        again = again[~np.isin(again, [q, *disliked])]
        marked = np.concatenate([liked, disliked])
        before_res.append(_p_at_k(order[~np.isin(order, marked)], rel))
        after_res.append(_p_at_k(again[~np.isin(again, marked)], rel))
        before_shown.append(_p_at_k(order, rel))
        after_shown.append(_p_at_k(again, rel))
    def mean(values: list[float]) -> float:
        return round(float(np.nanmean(values)), 4) if values else float("nan")
    return {"queries": len(before_res), "skipped": skipped,
            "residual_p10_before": mean(before_res), "residual_p10_after": mean(after_res),
            "residual_gain": round(mean(after_res) - mean(before_res), 4),
            "shown_p10_before": mean(before_shown), "shown_p10_after": mean(after_shown),
            "shown_gain": round(mean(after_shown) - mean(before_shown), 4)}


def latency(n: int, requests: int, work: Path) -> dict[str, Any]:
    """Server-side milliseconds of POST /find-similar/refine (and of the plain search) at n designs."""
    ex = get_extractor("pattern")
    data = work / "data"
    settings = Settings.from_env(data_dir=data)
    info = {"pattern": {"extractor": "pattern", "kind": "pretrained", "params": ex.params()}}
    made = synthetic_catalogue(settings, n, {"pattern": ex.dim}, seed=3, infos=info)
    ids = [int(i) for i in made["ids"]]
    rng = np.random.default_rng(0)
    live = start_server(data, threads=4, log=work / "server.log", ready_timeout=900)
    try:
        client = Client(live.port)
        plain_ms, refine_ms = [], []
        for k in range(requests + 10):
            qid = ids[int(rng.integers(0, n))]
            status, headers, body, _ = client.request("GET", f"/find-similar?id={qid}&model=pattern&topN=100")
            shown = [h["id"] for h in json.loads(body)]
            payload = {"ids": [qid], "liked": shown[3:6], "disliked": shown[0:3], "shown": shown,
                       "model": "pattern", "topN": 100, "store": False}
            st, rh, _, _ = client.request("POST", "/find-similar/refine", json.dumps(payload).encode(),
                                          {"Content-Type": "application/json"})
            if status != 200 or st != 200:
                raise RuntimeError(f"search answered {status}/{st}")
            if k >= 10:  # the first ten warm the caches
                plain_ms.append(float(headers["x-elapsed-ms"]))
                refine_ms.append(float(rh["x-elapsed-ms"]))
    finally:
        live.stop()
    return {"rows": n, "dim": ex.dim, "requests": requests,
            "refine_server_p50_ms": pct(refine_ms, 50), "refine_server_p99_ms": pct(refine_ms, 99),
            "plain_server_p50_ms": pct(plain_ms, 50)}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--sets", default=",".join(PATTERN_SETS))
    ap.add_argument("--rows", type=int, default=20_000, help="catalogue size of the latency run (0: skip)")
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args(argv)
    out: dict[str, Any] = {"k": K, "marks": {"liked": MARKS, "disliked": MARKS, "from_top": DEPTH}, "sets": {}}
    ex = get_extractor("pattern")
    started = time.perf_counter()
    for name in [s for s in args.sets.split(",") if s]:
        if not (args.datasets / name).is_dir():
            out["sets"][name] = {"skipped": "dataset folder absent"}
            continue
        data = load_set(args.datasets, name)
        rows, _ = features(ex, data, args.cache)
        out["sets"][name] = refine_quality(rows.astype(np.float32), data)
    gains = [s["residual_gain"] for s in out["sets"].values() if "residual_gain" in s]
    out["mean_residual_gain"] = round(float(np.mean(gains)), 4) if gains else None
    out["quality_s"] = round(time.perf_counter() - started, 1)
    if args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            out["latency"] = latency(args.rows, args.requests, Path(tmp))
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
