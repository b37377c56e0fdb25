"""Catalogue paging at scale: GET /api/images page 1 against deep pages, through the real waitress server.

Writes a synthetic catalogue of --rows images with metadata (swatch/testing/synthetic.py; no feature version:
paging reads only the catalogue), starts `python -m swatch.serve`, waits for /readyz, then times --requests
keep-alive requests per case: page 1, the middle page and the last page, unfiltered, with a season filter and
with a text query (the first request of a filter or query is timed apart: it evaluates the filter once per
snapshot). Prints one JSON object: client round-trip p50/p99 in ms per case and the deep/first p50 ratios.

    .venv/bin/python bench/catalogue_paging.py                 # 200,000 rows
    .venv/bin/python bench/catalogue_paging.py --rows 20000 --requests 50
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from swatch.config import Settings
from swatch.testing.load import Client, pct
from swatch.testing.server import start_server
from swatch.testing.synthetic import synthetic_catalogue

PER_PAGE = 60
CASES: dict[str, dict[str, str]] = {
    "unfiltered": {},
    "season": {"season": "2022-AW"},
    "text": {"q": "dundee"},
}


def _time(client: Client, path: str, n: int) -> tuple[list[float], dict[str, Any]]:
    times: list[float] = []
    body: dict[str, Any] = {}
    for _ in range(n):
        status, _headers, data, ms = client.request("GET", path)
        if status != 200:
            raise SystemExit(f"error: {path} answered {status}: {data[:200]!r}")
        times.append(ms)
        body = json.loads(data)
    return times, body


def measure(port: int, requests: int) -> dict[str, Any]:
    """Per case: the first request, then p50/p99 of page 1, the middle page and the last page."""
    client = Client(port)
    out: dict[str, Any] = {}
    for name, params in CASES.items():
        first_ms, body = _time(client, "/api/images?" + urlencode({**params, "page": 1, "per_page": PER_PAGE}), 1)
        pages = max(1, math.ceil(int(body["total"]) / PER_PAGE))
        case: dict[str, Any] = {"total": int(body["total"]), "pages": pages, "first_request_ms": round(first_ms[0], 3)}
        for label, page in (("page_1", 1), ("middle_page", max(1, pages // 2)), ("last_page", pages)):
            times, page_body = _time(
                client, "/api/images?" + urlencode({**params, "page": page, "per_page": PER_PAGE}), requests)
            if not page_body["images"]:
                raise SystemExit(f"error: {name} page {page} came back empty")
            case[label] = {"page": page, "p50_ms": pct(times, 50), "p99_ms": pct(times, 99)}
        case["last_over_first_p50"] = round(case["last_page"]["p50_ms"] / case["page_1"]["p50_ms"], 2)
        out[name] = case
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="catalogue images (default 200,000)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page and case")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    if args.rows < PER_PAGE or args.requests < 1:
        print(f"error: --rows must be at least {PER_PAGE} and --requests at least 1", file=sys.stderr)
        raise SystemExit(2)
    with tempfile.TemporaryDirectory(prefix="swatch-paging-", dir=args.work) as tmp:
        data = Path(tmp) / "data"
        started = time.perf_counter()
        synthetic_catalogue(Settings.from_env(data_dir=data), args.rows, dims={})
        write_s = time.perf_counter() - started
        server = start_server(data, ready_timeout=900.0)  # a large snapshot on a busy machine starts slowly
        try:
            result = {"rows": args.rows, "per_page": PER_PAGE, "requests": args.requests,
                      "catalogue_write_s": round(write_s, 1), "cases": measure(server.port, args.requests)}
        finally:
            server.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
