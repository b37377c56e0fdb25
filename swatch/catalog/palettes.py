"""The `palettes` table: each image's dominant colours per palette size, keyed by content hash, written once."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from swatch.catalog.db import Catalog

Palette = Sequence[dict[str, Any]]


def stored_palette(catalog: Catalog, sha256: str, k: int) -> list[dict[str, Any]] | None:
    """The stored palette of the content with this hash at size k, or None when none was stored."""
    row = catalog.connect().execute(
        "SELECT colours FROM palettes WHERE sha256 = ? AND k = ?", (sha256, int(k))).fetchone()
    if row is None:
        return None
    colours = json.loads(row[0])
    return colours if isinstance(colours, list) else None


def store_palettes(catalog: Catalog, palettes: Iterable[tuple[str, int, Palette]]) -> None:
    """Store (sha256, k, palette) entries in one transaction; an entry already stored is kept (same content,
    same palette)."""
    rows = [(sha, int(k), json.dumps(list(p), separators=(",", ":"))) for sha, k, p in palettes]
    if not rows:
        return
    with catalog.transaction() as tx:
        tx.executemany("INSERT OR IGNORE INTO palettes(sha256, k, colours) VALUES (?,?,?)", rows)
