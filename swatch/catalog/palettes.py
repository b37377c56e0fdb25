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
        tx.executemany("INSERT INTO palettes(sha256, k, colours) VALUES (?,?,?) ON CONFLICT DO NOTHING", rows)


def live_palettes(catalog: Catalog, k: int) -> list[tuple[int, list[dict[str, Any]]]]:
    """(image id, palette) of every live image that has a stored palette of size k, by id (one query)."""
    rows = catalog.connect().execute(
        "SELECT i.id, p.colours FROM images i JOIN palettes p ON p.sha256 = i.sha256 AND p.k = ? "
        "WHERE i.removed_at IS NULL ORDER BY i.id", (int(k),)).fetchall()
    out = []
    for image_id, colours in rows:
        palette = json.loads(colours)
        if isinstance(palette, list):
            out.append((int(image_id), palette))
    return out


def palette_count(catalog: Catalog, k: int) -> int:
    """How many palettes of size k are stored (a palette stored on first request changes it)."""
    return int(catalog.connect().execute("SELECT COUNT(*) FROM palettes WHERE k = ?", (int(k),)).fetchone()[0])
