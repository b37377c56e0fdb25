"""`swatch migrate --from catalog.db --to postgresql://...`: copy a SQLite catalogue into PostgreSQL, verified."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from swatch.cli import WORK_FAILED, CliError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Copy a SQLite catalogue (catalog.db, read through SQLite and never changed) into a PostgreSQL database, "
        "all tables in one transaction, then compare every table's row count and checksum; a difference writes "
        "nothing. A target that already holds a catalogue is refused unless --replace."
    )
    parser.add_argument("--from", dest="source", required=True, help="the SQLite catalogue, e.g. data/catalog.db")
    parser.add_argument("--to", dest="target", required=True,
                        help="the PostgreSQL database: postgresql://user:password@host:port/database")
    parser.add_argument("--replace", action="store_true", help="empty a target that already holds rows first")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def run(args: argparse.Namespace) -> int:
    from swatch.catalog.db import Catalog
    from swatch.catalog.postgres import is_postgres_url, mask_url
    from swatch.catalog.transfer import TransferError, copy_catalogue

    source = Path(args.source).expanduser()
    if not source.is_file():
        raise CliError(f"--from: no catalogue file at {source}")
    if not is_postgres_url(args.target):
        raise CliError("--to: must be a postgresql://user:password@host:port/database URL")
    started = time.perf_counter()
    target = Catalog(args.target)  # unreachable: CatalogUnavailable, one masked line and exit 2
    try:
        checks = copy_catalogue(source, target, replace=args.replace)
    except TransferError as exc:
        raise CliError(str(exc), status=WORK_FAILED if "did not verify" in str(exc) else 2) from exc
    finally:
        target.close()
    seconds = round(time.perf_counter() - started, 3)
    ok = all(c.equal for c in checks)
    if args.json:
        print(json.dumps({"from": str(source), "to": mask_url(args.target), "ok": ok, "seconds": seconds,
                          "tables": [c.to_dict() for c in checks]}))
    else:
        width = max(len(c.table) for c in checks)
        for c in checks:
            print(f"{c.table:<{width}}  {c.source_rows:>9} rows  checksum {c.source_checksum[:16]}"
                  f"  {'equal' if c.equal else 'DIFFERENT'}")
        print(f"copied {sum(c.source_rows for c in checks)} rows of {len(checks)} tables to "
              f"{mask_url(args.target)} in {seconds} s: counts and checksums equal")
    return 0
