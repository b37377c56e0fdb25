"""`swatch migrate` at scale: a synthetic SQLite catalogue copied into a private PostgreSQL 15, verified.

Writes --rows designs with metadata, a feature version, a cluster version and some ratings into catalog.db
(swatch/testing/synthetic.py), runs --searches exact searches (unfiltered, season, cluster filters) on SQLite,
runs `swatch migrate --json` into a fresh PostgreSQL database (swatch/testing/postgres.py), runs the same
searches with SWATCH_DATABASE_URL set and compares ids and order. Prints one JSON object: the migrate time, rows,
whether every table's count and checksum were equal, and whether the searches were identical.

    .venv/bin/python bench/migrate_postgres.py                 # 20,000 designs
    .venv/bin/python bench/migrate_postgres.py --rows 2000 --searches 10
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from swatch.catalog.db import Catalog, now_iso
from swatch.catalog.feedback import add_rating
from swatch.catalog.postgres import close_pools
from swatch.config import Settings
from swatch.search.filters import parse_filters
from swatch.search.params import SearchParams
from swatch.search.service import SearchEngine
from swatch.testing.postgres import start_postgres
from swatch.testing.synthetic import synthetic_catalogue

FILTERS: tuple[dict[str, Any], ...] = ({}, {"season": "2019-SS"}, {"cluster": {"version": "v1", "ids": [3]}})


def searches(settings: Settings, refs: list[int]) -> tuple[list[list[int]], float]:
    engine = SearchEngine(settings, metadata_interval=0.0)
    out, started = [], time.perf_counter()
    for ref in refs:
        for filters in FILTERS:
            res = engine.similar_to_image(ref, SearchParams(top_n=100, filters=parse_filters(filters)))
            out.append([int(h["id"]) for h in res.hits] + [res.total])
    return out, time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--searches", type=int, default=30, help="query designs (each with every filter)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="swatch-bench-migrate-") as tmp:
        settings = Settings.from_env(data_dir=Path(tmp) / "data", database_url="")
        made = synthetic_catalogue(settings, args.rows, {"pattern": args.dim}, seed=7, rare_fraction=0.02)
        ids = [int(i) for i in made["ids"]]
        cat = Catalog(settings.database)
        with cat.transaction() as tx:
            tx.execute("INSERT INTO cluster_versions(version, model, feature_version, k, created_at)"
                       " VALUES ('v1', 'pattern', 'v1', 20, ?)", (now_iso(),))
            tx.executemany("INSERT INTO cluster_assignments(version, image_id, cluster, distance)"
                           " VALUES ('v1', ?, ?, ?)", [(i, i % 20, (i % 97) / 7) for i in ids])
        rows = cat.live_images()
        for k in range(200):
            add_rating(cat, rows[k].path, rows[k + 1].path, "pattern", "v1", 1 + k % 5, "bench")
        refs = ids[:: max(1, len(ids) // args.searches)][: args.searches]
        before, sqlite_s = searches(settings, refs)
        server = start_postgres()
        try:
            url = server.url(server.create_database("bench"))
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "swatch", "migrate", "--from", str(settings.db_path),
                                   "--to", url, "--json"], capture_output=True, text=True, check=False)
            wall = time.perf_counter() - started
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            report = json.loads(done.stdout)
            after, pg_s = searches(dataclasses.replace(settings, database_url=url), refs)
            close_pools(url)
            import psycopg

            with psycopg.connect(url) as conn:  # the catalogue's size on each engine (the sizing table of deploy.md)
                pg_bytes = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])
            sqlite_bytes = sum(os.stat(f).st_size for f in settings.db_path.parent.glob("catalog.db*"))
        finally:
            server.close()
    print(json.dumps({
        "rows": args.rows, "tables": len(report["tables"]),
        "copied_rows": sum(t["target_rows"] for t in report["tables"]),
        "migrate_s": report["seconds"], "migrate_wall_s": round(wall, 3),
        "counts_and_checksums_equal": all(t["equal"] for t in report["tables"]),
        "per_table": {t["table"]: [t["target_rows"], t["target_checksum"][:12]] for t in report["tables"]},
        "searches": len(before), "identical_results": before == after,
        "search_s": {"sqlite": round(sqlite_s, 3), "postgres": round(pg_s, 3)},
        "catalogue_mb": {"sqlite": round(sqlite_bytes / 2**20, 1), "postgres": round(pg_bytes / 2**20, 1)},
    }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
