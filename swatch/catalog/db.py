"""The catalogue database: SQLite (WAL, the default) or PostgreSQL (SWATCH_DATABASE_URL), one connection pool
per database and process, transactions, the migration runner, and Catalog."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from swatch.catalog.errors import CatalogError, CatalogUnavailable
from swatch.catalog.images import ImageQueries
from swatch.catalog.migrations import MIGRATIONS, Migration
from swatch.catalog.models import ModelRegistry
from swatch.catalog.postgres import MIGRATE_LOCK, ddl, is_postgres_url, pool_for

__all__ = ["Catalog", "CatalogError", "CatalogUnavailable", "Connection", "Database", "now_iso"]


#: a catalogue connection as callers type it: a sqlite3.Connection, or the PostgreSQL wrapper
#: (swatch.catalog.postgres.PgConnection) that offers the same surface callers use (execute, executemany, cursors
#: with fetchone, fetchall, iteration, rowcount, lastrowid; rows as tuples; `?` placeholders)
Connection = sqlite3.Connection


def now_iso() -> str:
    """UTC timestamp with microseconds, sortable as text."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Connections(threading.local):
    """One process's connections to one database file, one per thread; every Catalog of that file shares them."""

    conn: sqlite3.Connection | None = None


#: the connections of each open database file, by (device, inode): one pool per file per process, whatever path
#: or how many Catalog objects reach it; a pool goes when its last Catalog does
_POOLS: weakref.WeakValueDictionary[tuple[int, int], _Connections] = weakref.WeakValueDictionary()
_POOLS_LOCK = threading.Lock()


def _file_key(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at `path` (a stat, never an open), or None when there is none yet."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CatalogError(f"cannot open catalogue {path}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise CatalogError(f"cannot open catalogue {path}: not a regular file")
    return st.st_dev, st.st_ino


def statements(migration: str | Migration, dialect: str) -> list[str]:
    """A migration's statements for one dialect: a text split at `;`, or a Migration's own list."""
    if isinstance(migration, Migration):
        return list(migration.sqlite if dialect == "sqlite" else migration.postgres)
    return [s for s in migration.split(";") if s.strip()]


class Database:
    """The catalogue's database: a SQLite file in WAL mode (a path), or PostgreSQL (a postgresql:// URL).

    One connection per thread; writes in explicit transactions (`transaction()`). Every Catalog of the same
    file (or URL) in a process shares one pool of connections (the app's catalogue included). For SQLite,
    nothing here opens the file except SQLite: closing any other descriptor of it would drop the POSIX locks
    SQLite holds on it, and another process would then checkpoint and reset the WAL under us.
    """

    def __init__(self, path: Path | str):
        self.url: str | None = str(path) if is_postgres_url(path) else None
        self.dialect = "postgres" if self.url else "sqlite"
        self._pg = pool_for(self.url) if self.url else None
        if self._pg is not None:
            self._path: Path | None = None
            self.where = self._pg.where
            self._migrate()
            return
        self._path = Path(path)
        self.where = str(self._path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with _POOLS_LOCK:
            key = _file_key(self._path)
            pool = _POOLS.get(key) if key is not None else None
            self._local = pool if pool is not None else _Connections()
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise
        if key is None:  # we made the file: later Catalogs of it share this pool
            with _POOLS_LOCK:
                made = _file_key(self._path)
                if made is not None and made not in _POOLS:
                    _POOLS[made] = self._local

    @property
    def path(self) -> Path:
        """The SQLite file (a PostgreSQL catalogue has none: CatalogError)."""
        if self._path is None:
            raise CatalogError(f"the catalogue at {self.where} is a PostgreSQL database, not a file")
        return self._path

    # -- connections and transactions --
    def connect(self) -> Connection:
        """This thread's connection (created on first use)."""
        if self._pg is not None:
            return cast(Connection, self._pg.connect())
        conn = self._local.conn
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        return conn

    def _sqlite(self) -> sqlite3.Connection:
        conn = self.connect()
        assert isinstance(conn, sqlite3.Connection)
        return conn

    def _open(self) -> sqlite3.Connection:
        """A new connection, refusing (CatalogError) a file that is not a catalogue or one newer than this code.

        The header is checked by SQLite itself, reading user_version before anything writes (a file that is not
        a database fails there and is left as it was, with no -wal or -shm beside it).
        """
        try:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise CatalogError(f"cannot open catalogue {self.path}: {exc}") from exc
        try:
            self._refuse_newer(int(conn.execute("PRAGMA user_version").fetchone()[0]))
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise CatalogError(f"cannot open catalogue {self.path}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def backup(self, dest: Path | str) -> None:
        """A consistent copy of a SQLite catalogue at `dest`, made by SQLite's backup API (never by reading its
        file)."""
        source = self._sqlite() if self._pg is None else None
        if source is None:
            raise CatalogError(f"the catalogue at {self.where} is a PostgreSQL database: back it up with pg_dump")
        target = sqlite3.connect(dest)
        try:
            source.backup(target)
        finally:
            target.close()

    def close(self) -> None:
        """Close this thread's connection (the next use opens another)."""
        if self._pg is not None:
            self._pg.close()
            return
        conn = self._local.conn
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self, serial: bool = True) -> Iterator[Connection]:
        """BEGIN ... COMMIT, rolled back on any exception.

        SQLite: BEGIN IMMEDIATE (one writer at a time). PostgreSQL: BEGIN, and unless `serial` is False the
        catalogue's write lock (a transaction-level advisory lock), so read-then-write transactions (the next
        version number, the next free id) see what SQLite's would; `serial=False` is for single-row writes and
        row-locking claims (SKIP LOCKED) that must not wait on other writers."""
        if self._pg is None:
            conn = self._sqlite()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
            return
        pg = self._pg.connect()
        try:
            pg.begin(serial)
        except BaseException:
            pg.end(commit=False)
            raise
        try:
            yield cast(Connection, pg)
        except BaseException:
            pg.end(commit=False)
            raise
        else:
            pg.end(commit=True)

    def sync_ids(self, tx: Connection, table: str) -> None:
        """After rows were inserted with ids of their own: PostgreSQL's identity of `table` continues after the
        largest (SQLite takes the largest + 1 by itself). Inside the inserting transaction."""
        if self._pg is not None:
            tx.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false)"
                       f" FROM {table}")

    def _refuse_newer(self, version: int) -> None:
        if version > len(MIGRATIONS):
            raise CatalogError(
                f"catalogue {self.where} has schema version {version}, newer than this Swatch ({len(MIGRATIONS)})"
            )

    def _migrate(self) -> None:
        if self._pg is not None:
            self._migrate_postgres()
            return
        conn = self._sqlite()
        current = int(conn.execute("PRAGMA user_version").fetchone()[0])
        self._refuse_newer(current)
        for number in range(current, len(MIGRATIONS)):
            with self.transaction() as tx:
                if int(tx.execute("PRAGMA user_version").fetchone()[0]) > number:
                    continue  # another connection applied it meanwhile
                for statement in statements(MIGRATIONS[number], "sqlite"):
                    tx.execute(statement)
                tx.execute(f"PRAGMA user_version = {number + 1}")

    def _migrate_postgres(self) -> None:
        """The same numbered migrations in PostgreSQL's types (`postgres.ddl`), all pending ones in one
        transaction under the migration lock; table `swatch_schema` holds how many are applied."""
        with self.transaction(serial=False) as tx:
            tx.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATE_LOCK,))
            tx.execute("CREATE TABLE IF NOT EXISTS swatch_schema (version BIGINT NOT NULL)")
            row = tx.execute("SELECT version FROM swatch_schema").fetchone()
            if row is None:
                tx.execute("INSERT INTO swatch_schema(version) VALUES (0)")
            current = int(row[0]) if row else 0
            self._refuse_newer(current)
            for number in range(current, len(MIGRATIONS)):
                for statement in statements(MIGRATIONS[number], "postgres"):
                    tx.execute(ddl(statement))
            if current < len(MIGRATIONS):
                tx.execute("UPDATE swatch_schema SET version = ?", (len(MIGRATIONS),))

    @property
    def schema_version(self) -> int:
        if self._pg is not None:
            return int(self.connect().execute("SELECT version FROM swatch_schema").fetchone()[0])
        return int(self.connect().execute("PRAGMA user_version").fetchone()[0])

    @staticmethod
    def now() -> str:
        """UTC timestamp for a row written now (`now_iso`)."""
        return now_iso()


class Catalog(ImageQueries, ModelRegistry, Database):
    """The catalogue callers use: the database (pool, transactions, migrations) with its per-table queries.

    Images and metadata live in swatch.catalog.images, model versions in swatch.catalog.models; clusters,
    feedback and jobs are functions over a Catalog in their own modules."""


def copy_data_dir(source: Path, dest: Path) -> None:
    """Copy a data dir to a new folder `dest`: its catalog.db through SQLite (`Catalog.backup`), since copying
    the file would open and close a database that may be live in this process; the rest file by file, links kept."""
    shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns("catalog.db", "catalog.db-*"))
    if (source / "catalog.db").is_file():
        Catalog(source / "catalog.db").backup(dest / "catalog.db")
