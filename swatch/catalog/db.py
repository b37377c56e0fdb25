"""The catalogue database: connection pool (WAL), transactions, the migration runner, and Catalog."""

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

from swatch.catalog.images import ImageQueries
from swatch.catalog.migrations import MIGRATIONS
from swatch.catalog.models import ModelRegistry


class CatalogError(RuntimeError):
    """The catalogue cannot be opened or is newer than this code."""


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


class Database:
    """A SQLite catalogue in WAL mode. One connection per thread; writes in explicit transactions.

    Every Catalog of the same file in a process shares one pool of connections (the app's catalogue included),
    and nothing here opens the file except SQLite: closing any other descriptor of it would drop the POSIX
    locks SQLite holds on it, and another process would then checkpoint and reset the WAL under us.
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _POOLS_LOCK:
            key = _file_key(self.path)
            pool = _POOLS.get(key) if key is not None else None
            self._local = pool if pool is not None else _Connections()
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise
        if key is None:  # we made the file: later Catalogs of it share this pool
            with _POOLS_LOCK:
                made = _file_key(self.path)
                if made is not None and made not in _POOLS:
                    _POOLS[made] = self._local

    # -- connections and transactions --
    def connect(self) -> sqlite3.Connection:
        """This thread's connection (created on first use)."""
        conn = self._local.conn
        if conn is None:
            conn = self._open()
            self._local.conn = conn
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
        """A consistent copy of the catalogue at `dest`, made by SQLite's backup API (never by reading its file)."""
        target = sqlite3.connect(dest)
        try:
            self.connect().backup(target)
        finally:
            target.close()

    def close(self) -> None:
        """Close this thread's connection (the next use opens another)."""
        conn = self._local.conn
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        conn = self.connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def _refuse_newer(self, version: int) -> None:
        if version > len(MIGRATIONS):
            raise CatalogError(
                f"catalogue {self.path} has schema version {version}, newer than this Swatch ({len(MIGRATIONS)})"
            )

    def _migrate(self) -> None:
        conn = self.connect()
        current = int(conn.execute("PRAGMA user_version").fetchone()[0])
        self._refuse_newer(current)
        for number in range(current, len(MIGRATIONS)):
            with self.transaction() as tx:
                if int(tx.execute("PRAGMA user_version").fetchone()[0]) > number:
                    continue  # another connection applied it meanwhile
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        tx.execute(statement)
                tx.execute(f"PRAGMA user_version = {number + 1}")

    @property
    def schema_version(self) -> int:
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
