"""Change counters (table `changes`): bumped inside each writing transaction, read cheaply by the snapshot."""

from __future__ import annotations

import sqlite3

IMAGES, FEEDBACK, CLUSTERS = "images", "feedback", "clusters"


def bump(tx: sqlite3.Connection, *names: str) -> None:
    """Count one change of each kind in `names` (images with their metadata, ratings, clusters) inside `tx`:
    it commits or rolls back with the write it counts."""
    marks = ",".join("?" * len(names))
    tx.execute(f"UPDATE changes SET counter = counter + 1 WHERE name IN ({marks})", names)


def counters(conn: sqlite3.Connection) -> tuple[tuple[str, int], ...]:
    """Every counter, by name: what changed since a reader last looked is what differs."""
    return tuple((str(n), int(c)) for n, c in conn.execute("SELECT name, counter FROM changes ORDER BY name"))
