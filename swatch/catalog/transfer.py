"""Copy a SQLite catalogue into PostgreSQL in one transaction, verified table by table (counts and checksums)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from swatch.catalog.changes import CLUSTERS, FEEDBACK, IMAGES, bump
from swatch.catalog.db import Catalog, CatalogError, Connection
from swatch.catalog.postgres import IDENTITY_TABLES, PgConnection

#: tables of the schema's own bookkeeping that are never copied
_SKIP = frozenset({"swatch_schema"})


class TransferError(CatalogError):
    """The copy cannot start (target not empty, source not a catalogue) or did not verify: nothing was written."""


@dataclass(frozen=True)
class TableCheck:
    """One table after the copy: rows and checksum on each side."""

    table: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str

    @property
    def equal(self) -> bool:
        return self.source_rows == self.target_rows and self.source_checksum == self.target_checksum

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "equal": self.equal}


def _canonical(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


def checksum(rows: Iterable[Sequence[Any]]) -> tuple[int, str]:
    """(row count, checksum) of a table's rows, independent of their order (the sum of each row's SHA-256, mod
    2**256): both dialects' values in one canonical JSON form, floats by repr."""
    total, count = 0, 0
    for row in rows:
        digest = hashlib.sha256(json.dumps([_canonical(v) for v in row], default=str).encode()).digest()
        total = (total + int.from_bytes(digest, "big")) % (1 << 256)
        count += 1
    return count, f"{total:064x}"


def _tables(conn: Connection) -> list[tuple[str, list[str]]]:
    """The source's tables in creation order (referenced tables first) with their columns."""
    names = [str(r[0]) for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]
    return [(n, [str(c[1]) for c in conn.execute(f"PRAGMA table_info({n})")]) for n in names if n not in _SKIP]


def target_rows(target: Catalog) -> dict[str, int]:
    """Rows in each data table of the target (the change counters left out): all zero for an empty catalogue."""
    conn = target.connect()
    names = [str(r[0]) for r in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        " AND table_type = 'BASE TABLE' ORDER BY table_name")]
    return {n: int(conn.execute(f"SELECT COUNT(*) FROM {n}").fetchone()[0])
            for n in names if n not in _SKIP and n != "changes"}


def copy_catalogue(source: Path, target: Catalog, replace: bool = False) -> list[TableCheck]:
    """Copy the SQLite catalogue at `source` into the PostgreSQL catalogue `target`, all or nothing.

    The source is read through SQLite's backup API into a private copy (brought to this code's schema there;
    the source file itself is never written), then every table goes over in one transaction with COPY; each
    table's count and checksum are compared inside that transaction, and a difference rolls it all back. A
    target that holds rows is refused (TransferError) unless `replace`: then it is emptied in that same
    transaction."""
    if target.dialect != "postgres":
        raise TransferError("the target must be a postgresql:// catalogue")
    with tempfile.TemporaryDirectory(prefix="swatch-migrate-") as tmp:
        private = Path(tmp) / "catalog.db"
        try:
            src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise TransferError(f"cannot open catalogue {source}: {exc}") from exc
        try:
            out = sqlite3.connect(private)
            try:
                src.backup(out)
            except sqlite3.DatabaseError as exc:
                raise TransferError(f"cannot open catalogue {source}: {exc}") from exc
            finally:
                out.close()
        finally:
            src.close()
        copy = Catalog(private)  # migrated to this code's schema (a newer one is refused: CatalogError)
        try:
            return _copy(copy, target, replace)
        finally:
            copy.close()


def _copy(source: Catalog, target: Catalog, replace: bool) -> list[TableCheck]:
    reader = source.connect()
    tables = _tables(reader)
    held = {t: n for t, n in target_rows(target).items() if n}
    if held and not replace:
        shown = ", ".join(f"{t}: {n}" for t, n in sorted(held.items())[:6])
        raise TransferError(f"the target already holds a catalogue ({shown} rows); --replace empties it first")
    checks: list[TableCheck] = []
    with target.transaction() as tx:
        pg = cast(PgConnection, tx)
        if held:
            tx.execute("TRUNCATE " + ", ".join(t for t, _ in tables) + " RESTART IDENTITY CASCADE")
        for table, columns in tables:
            cols = ", ".join(columns)
            if table == "changes":
                tx.execute("DELETE FROM changes")
            pg.copy_rows(table, columns, reader.execute(f"SELECT {cols} FROM {table}"))
            if table in IDENTITY_TABLES:
                target.sync_ids(tx, table)
            n_src, sum_src = checksum(reader.execute(f"SELECT {cols} FROM {table}"))
            n_dst, sum_dst = checksum(tx.execute(f"SELECT {cols} FROM {table}").fetchall())
            checks.append(TableCheck(table, n_src, n_dst, sum_src, sum_dst))
        bad = [c for c in checks if not c.equal]
        if bad:
            raise TransferError("copy did not verify, nothing written: " + ", ".join(
                f"{c.table} ({c.source_rows} -> {c.target_rows} rows)" for c in bad))
        bump(tx, IMAGES, FEEDBACK, CLUSTERS)  # a server already on the target re-reads
    return checks
