"""The catalogue database: connection set-up (WAL), migrations, transactions and typed queries."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from swatch.catalog.migrations import MIGRATIONS


class CatalogError(RuntimeError):
    """The catalogue cannot be opened or is newer than this code."""


def now_iso() -> str:
    """UTC timestamp with microseconds, sortable as text."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class ImageRow:
    """One catalogue image with its metadata."""

    id: int
    root: str
    path: str
    filename: str
    sha256: str
    size_bytes: int
    width: int | None
    height: int | None
    thumbnail: str | None
    removed_at: str | None
    design: str | None = None
    colourway: str | None = None
    season: str | None = None
    quality: str | None = None
    composition: tuple[tuple[str, float], ...] = ()
    cluster: str | None = None
    extras: dict[str, Any] | None = None

    @property
    def full_path(self) -> Path:
        return Path(self.root) / self.path

    def to_public(self) -> dict[str, Any]:
        """The JSON shape the API returns for an image."""
        return {
            "id": self.id,
            "filename": self.filename,
            "path": self.path,
            "design": self.design,
            "colourway": self.colourway,
            "season": self.season,
            "quality": self.quality,
            "features": [[f, p] for f, p in self.composition],
            "cluster": self.cluster,
        }


_IMAGE_SELECT = """
SELECT i.id, i.root, i.path, i.filename, i.sha256, i.size_bytes, i.width, i.height, i.thumbnail, i.removed_at,
       m.design, m.colourway, m.season, m.quality, m.composition, m.cluster, m.extras
FROM images i LEFT JOIN metadata m ON m.image_id = i.id
"""


def _row_to_image(r: sqlite3.Row | tuple) -> ImageRow:
    comp = tuple((str(f), float(p)) for f, p in json.loads(r[14] or "[]"))
    return ImageRow(
        id=r[0], root=r[1], path=r[2], filename=r[3], sha256=r[4], size_bytes=r[5], width=r[6], height=r[7],
        thumbnail=r[8], removed_at=r[9], design=r[10], colourway=r[11], season=r[12], quality=r[13],
        composition=comp, cluster=r[15], extras=json.loads(r[16] or "{}"),
    )


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


class Catalog:
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

    # -- images --
    def count_images(self) -> int:
        return int(self.connect().execute("SELECT COUNT(*) FROM images WHERE removed_at IS NULL").fetchone()[0])

    def live_images(self) -> list[ImageRow]:
        rows = self.connect().execute(_IMAGE_SELECT + " WHERE i.removed_at IS NULL ORDER BY i.id").fetchall()
        return [_row_to_image(r) for r in rows]

    def images_by_ids(self, ids: Sequence[int]) -> dict[int, ImageRow]:
        out: dict[int, ImageRow] = {}
        conn = self.connect()
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for r in conn.execute(_IMAGE_SELECT + f" WHERE i.id IN ({marks})", chunk):
                img = _row_to_image(r)
                out[img.id] = img
        return out

    def image(self, image_id: int) -> ImageRow | None:
        return self.images_by_ids([image_id]).get(image_id)

    def find_image(self, name: str) -> ImageRow | None:
        """A live image by relative path or file name (the newest when a name repeats)."""
        conn = self.connect()
        r = conn.execute(
            _IMAGE_SELECT + " WHERE i.removed_at IS NULL AND (i.path = ? OR i.filename = ?) ORDER BY i.path = ? DESC,"
            " i.id DESC LIMIT 1",
            (name, name, name),
        ).fetchone()
        return _row_to_image(r) if r else None

    def images_under(self, root: str) -> dict[str, ImageRow]:
        """Live images below an ingest root, by relative path."""
        rows = self.connect().execute(
            _IMAGE_SELECT + " WHERE i.root = ? AND i.removed_at IS NULL", (root,)
        ).fetchall()
        return {img.path: img for img in map(_row_to_image, rows)}

    def removed_with_hash(self, root: str, path: str, sha256: str) -> int | None:
        """The id of a removed image at this path with this content, to bring back instead of re-adding."""
        r = self.connect().execute(
            "SELECT id FROM images WHERE root = ? AND path = ? AND sha256 = ? AND removed_at IS NOT NULL"
            " ORDER BY id DESC LIMIT 1",
            (root, path, sha256),
        ).fetchone()
        return int(r[0]) if r else None

    def live_ids(self) -> list[int]:
        return [int(r[0]) for r in self.connect().execute("SELECT id FROM images WHERE removed_at IS NULL")]

    # -- model versions --
    def register_model_version(
        self, model: str, version: str, info: dict[str, Any], activate: bool = False
    ) -> None:
        self.register_model_versions([(model, version, info, activate)])

    def register_model_versions(self, entries: Sequence[tuple[str, str, dict[str, Any], bool]]) -> None:
        """Register (model, version, info, activate) entries in one transaction: all of them or none.

        A model with no active version gets this one as active."""
        with self.transaction() as tx:
            for model, version, info, activate in entries:
                tx.execute(
                    "INSERT INTO model_versions(model, version, active, created_at, info) VALUES (?,?,0,?,?)"
                    " ON CONFLICT(model, version) DO UPDATE SET info = excluded.info",
                    (model, version, now_iso(), json.dumps(info, sort_keys=True)),
                )
                has_active = tx.execute(
                    "SELECT 1 FROM model_versions WHERE model = ? AND active = 1", (model,)
                ).fetchone()
                if activate or not has_active:
                    tx.execute("UPDATE model_versions SET active = (version = ?) WHERE model = ?", (version, model))

    def activate_model_version(self, model: str, version: str) -> None:
        with self.transaction() as tx:
            if not tx.execute(
                "SELECT 1 FROM model_versions WHERE model = ? AND version = ?", (model, version)
            ).fetchone():
                raise KeyError(f"unknown version {version!r} of model {model!r}")
            tx.execute("UPDATE model_versions SET active = (version = ?) WHERE model = ?", (version, model))

    def active_version(self, model: str) -> str | None:
        r = self.connect().execute(
            "SELECT version FROM model_versions WHERE model = ? AND active = 1", (model,)
        ).fetchone()
        return str(r[0]) if r else None

    def model_versions(self, model: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT model, version, active, created_at, info FROM model_versions"
        args: tuple[str, ...] = ()
        if model:
            sql += " WHERE model = ?"
            args = (model,)
        rows = self.connect().execute(sql + " ORDER BY model, CAST(SUBSTR(version, 2) AS INTEGER)", args)
        return [
            {"model": m, "version": v, "active": bool(a), "created_at": c, "info": json.loads(i)}
            for m, v, a, c, i in rows
        ]


def copy_data_dir(source: Path, dest: Path) -> None:
    """Copy a data dir to a new folder `dest`: its catalog.db through SQLite (`Catalog.backup`), since copying
    the file would open and close a database that may be live in this process; the rest file by file, links kept."""
    shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns("catalog.db", "catalog.db-*"))
    if (source / "catalog.db").is_file():
        Catalog(source / "catalog.db").backup(dest / "catalog.db")
