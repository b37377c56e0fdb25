"""The catalogue database: connection set-up (WAL), migrations, transactions and typed queries."""

from __future__ import annotations

import json
import sqlite3
import threading
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


class Catalog:
    """A SQLite catalogue in WAL mode. One connection per thread; writes in explicit transactions."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._check_readable()
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    # -- connections and transactions --
    def connect(self) -> sqlite3.Connection:
        """This thread's connection (created on first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute("PRAGMA busy_timeout=30000")
            except sqlite3.DatabaseError as exc:
                raise CatalogError(f"cannot open catalogue {self.path}: {exc}") from exc
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
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

    def _check_readable(self) -> None:
        """Refuse a file that is not a catalogue, or one newer than this code, before anything touches it.

        Reads the SQLite header itself (magic, and user_version at byte 60): even a read-only connection would
        leave -wal/-shm files behind. `_migrate` checks the version again through SQLite.
        """
        try:
            with open(self.path, "rb") as fh:
                header = fh.read(100)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise CatalogError(f"cannot open catalogue {self.path}: {exc.strerror or exc}") from exc
        if not header:
            return  # an empty file: SQLite makes a new database in it
        if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
            raise CatalogError(f"cannot open catalogue {self.path}: not an SQLite database")
        version = int.from_bytes(header[60:64], "big")
        if version > len(MIGRATIONS):
            raise CatalogError(
                f"catalogue {self.path} has schema version {version}, newer than this Swatch ({len(MIGRATIONS)})"
            )

    def _migrate(self) -> None:
        conn = self.connect()
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        if current > len(MIGRATIONS):
            raise CatalogError(
                f"catalogue {self.path} has schema version {current}, newer than this Swatch ({len(MIGRATIONS)})"
            )
        for number in range(current, len(MIGRATIONS)):
            with self.transaction() as tx:
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
        with self.transaction() as tx:
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
