"""The `folders` and `folder_files` tables: the catalogue's registered folders, their files' last known stat and the
watcher's last report; removing and bringing back a folder's designs; undoing a cancelled ingest's rows."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from swatch.catalog.changes import IMAGES, bump
from swatch.catalog.db import Catalog


@dataclass(frozen=True)
class FolderRow:
    """One registered catalogue folder; `changes` is the watcher's last report ({} before the first check)."""

    id: int
    root: str
    metadata_file: str | None
    metadata_sha256: str | None
    added_at: str
    ingested_at: str | None
    removed_at: str | None
    checked_at: str | None
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FileStat:
    """A file's size and modification time (ns) when it was last known to match its catalogue row."""

    size_bytes: int
    mtime_ns: int


_SELECT = ("SELECT id, root, metadata_file, metadata_sha256, added_at, ingested_at, removed_at, checked_at, changes"
           " FROM folders")


def _row(r: Sequence[Any]) -> FolderRow:
    return FolderRow(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8] or "{}"))


def list_folders(catalog: Catalog, include_removed: bool = True) -> list[FolderRow]:
    where = "" if include_removed else " WHERE removed_at IS NULL"
    return [_row(r) for r in catalog.connect().execute(_SELECT + where + " ORDER BY id")]


def live_counts(catalog: Catalog) -> dict[str, int]:
    """Live designs per ingest root."""
    rows = catalog.connect().execute("SELECT root, COUNT(*) FROM images WHERE removed_at IS NULL GROUP BY root")
    return {str(r[0]): int(r[1]) for r in rows}


def get_folder(catalog: Catalog, folder_id: int) -> FolderRow | None:
    r = catalog.connect().execute(_SELECT + " WHERE id = ?", (int(folder_id),)).fetchone()
    return _row(r) if r else None


def folder_by_root(catalog: Catalog, root: str) -> FolderRow | None:
    r = catalog.connect().execute(_SELECT + " WHERE root = ?", (root,)).fetchone()
    return _row(r) if r else None


def register_folder(catalog: Catalog, root: str, metadata_file: str | None, metadata_sha256: str | None) -> int:
    """Record an ingest of `root` (added if new, brought back if removed) with its metadata file's hash."""
    stamp = catalog.now()
    with catalog.transaction() as tx:
        found = tx.execute("SELECT id FROM folders WHERE root = ?", (root,)).fetchone()
        if found is None:
            cur = tx.execute(
                "INSERT INTO folders(root, metadata_file, metadata_sha256, added_at, ingested_at) VALUES (?,?,?,?,?)",
                (root, metadata_file, metadata_sha256, stamp, stamp))
            return int(cur.lastrowid or 0)
        tx.execute("UPDATE folders SET metadata_file = ?, metadata_sha256 = ?, ingested_at = ?, removed_at = NULL"
                   " WHERE id = ?", (metadata_file, metadata_sha256, stamp, int(found[0])))
        return int(found[0])


def remove_folder(catalog: Catalog, folder_id: int) -> int:
    """Mark a folder removed and its live designs removed (rows kept: an ingest of the folder brings them back).
    Returns how many designs were marked."""
    stamp = catalog.now()
    with catalog.transaction() as tx:
        r = tx.execute("SELECT root FROM folders WHERE id = ?", (int(folder_id),)).fetchone()
        if r is None:
            return 0
        cur = tx.execute("UPDATE images SET removed_at = ? WHERE root = ? AND removed_at IS NULL", (stamp, r[0]))
        tx.execute("UPDATE folders SET removed_at = ?, changes = '{}' WHERE id = ?", (stamp, int(folder_id)))
        tx.execute("DELETE FROM folder_files WHERE folder_id = ?", (int(folder_id),))
        bump(tx, IMAGES)
        return int(cur.rowcount or 0)


def file_stats(catalog: Catalog, folder_id: int) -> dict[str, FileStat]:
    rows = catalog.connect().execute(
        "SELECT path, size_bytes, mtime_ns FROM folder_files WHERE folder_id = ?", (int(folder_id),))
    return {r[0]: FileStat(int(r[1]), int(r[2])) for r in rows}


def save_check(catalog: Catalog, folder_id: int, changes: dict[str, Any], known: Mapping[str, FileStat],
               forget: Sequence[str]) -> None:
    """One transaction: the report, the stats of files verified to match the catalogue, stats of others dropped."""
    with catalog.transaction() as tx:
        tx.execute("UPDATE folders SET changes = ?, checked_at = ? WHERE id = ?",
                   (json.dumps(changes, sort_keys=True), catalog.now(), int(folder_id)))
        tx.executemany("DELETE FROM folder_files WHERE folder_id = ? AND path = ?",
                       [(int(folder_id), p) for p in forget])
        tx.executemany(
            "INSERT INTO folder_files(folder_id, path, size_bytes, mtime_ns) VALUES (?,?,?,?)"
            " ON CONFLICT(folder_id, path) DO UPDATE SET size_bytes = excluded.size_bytes,"
            " mtime_ns = excluded.mtime_ns",
            [(int(folder_id), p, s.size_bytes, s.mtime_ns) for p, s in known.items()])


def undo_rows(catalog: Catalog, added: Sequence[int], retired: Sequence[int]) -> None:
    """Take back what a cancelled ingest wrote to `images`: the rows it added (or brought back) marked removed
    again, the rows it retired live again; one transaction, added rows first (one live row per path)."""
    stamp = catalog.now()
    with catalog.transaction() as tx:
        tx.executemany("UPDATE images SET removed_at = ? WHERE id = ?", [(stamp, int(i)) for i in added])
        tx.executemany("UPDATE images SET removed_at = NULL WHERE id = ?", [(int(i),) for i in retired])
        bump(tx, IMAGES)
