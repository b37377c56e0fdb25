"""Memory and build time of one process's metadata snapshot (swatch.catalog.snapshot.MetadataTable). Prints JSON.

Builds the table in-process from N rows shaped like the catalogue query's results (the synthetic textile
catalogue's names and metadata, plus a thumbnail name and a size as ingested images have), without a database or
a server: its build seconds (wall and CPU: the machine may be shared), the process's RSS before and after, the
time of the calls the server makes on it (a text search, a page of records, lookups), then in a second build the
bytes the table keeps (tracemalloc, the source rows freed) and the build's peak above the source rows.

    .venv/bin/python bench/snapshot_memory.py --rows 200000
    .venv/bin/python bench/snapshot_memory.py --rows 1000000 --no-trace   # no tracemalloc pass: RSS only
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from typing import Any

import numpy as np

from swatch.catalog.snapshot import MetadataTable
from swatch.testing.probes import memory_mb
from swatch.testing.synthetic import textile_catalogue_rows

PAGE = 60


def _timed(fn: Any, repeat: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def traced_bytes(n: int) -> dict[str, Any]:
    """Bytes a table of `n` rows keeps once its source rows are freed, and the build's peak (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        rows = textile_catalogue_rows(n)
        source = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.reset_peak()
        table = MetadataTable.from_rows(rows, 1)
        peak = tracemalloc.get_traced_memory()[1] - base - source
        del rows
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    del table
    return {"table_mib": round(kept / 2**20, 1), "table_mib_per_100k_rows": round(kept / 2**20 * 1e5 / n, 1),
            "source_rows_mib": round(source / 2**20, 1), "build_peak_above_source_rows_mib": round(peak / 2**20, 1)}


def measure(n: int) -> dict[str, Any]:
    """Build the table of `n` synthetic rows and measure it (see the module docstring)."""
    gc.collect()
    rss_before = memory_mb_self()
    rows = textile_catalogue_rows(n)
    rss_rows = memory_mb_self()
    t, cpu = time.perf_counter(), time.process_time()
    table = MetadataTable.from_rows(rows, 1)
    build_s, build_cpu_s = time.perf_counter() - t, time.process_time() - cpu
    del rows
    gc.collect()
    out: dict[str, Any] = {"rows": n, "build_s": round(build_s, 3), "build_cpu_s": round(build_cpu_s, 3),
                           "rss_mib": {"before": rss_before, "with_source_rows": rss_rows,
                                       "table_alone": memory_mb_self()}}
    if hasattr(table, "nbytes"):
        out["table_array_bytes_per_100k_rows"] = int(table.nbytes * 1e5 / n)
    rng = np.random.default_rng(0)
    positions = rng.choice(n, size=PAGE, replace=False)
    out["page_of_records_ms"] = round(_timed(lambda: [table.public(int(p)) for p in positions])[0] * 1e3, 3)
    names = [table.record(int(p)).filename for p in positions]
    out["find_by_filename_us"] = round(_timed(lambda: [table.find(x) for x in names])[0] / PAGE * 1e6, 2)
    search = getattr(table, "matching", None)
    for word in ("tweed", "km10042-", "no-such-text"):
        if search is not None:
            seconds, mask = _timed(lambda w=word: search((w,)))
        else:
            seconds, mask = _timed(lambda w=word: np.fromiter((w in h for h in table.haystack), bool, n))
        out[f"text_search_ms[{word}]"] = {"ms": round(seconds * 1e3, 1), "hits": int(mask.sum())}
    return out


def memory_mb_self() -> float:
    """This process's RSS, MiB."""
    import os

    return memory_mb(os.getpid(), ("VmRSS",)).get("VmRSS", 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows in the table (200000)")
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc pass (bytes kept, build peak)")
    args = parser.parse_args(argv)
    if not 1 <= args.rows <= 5_000_000:
        parser.error("--rows must be between 1 and 5000000")
    out = {"benchmark": "snapshot_memory", **measure(args.rows)}
    if not args.no_trace:  # after the timed build: tracemalloc slows building several times
        out |= traced_bytes(args.rows)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
