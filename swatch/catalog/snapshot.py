"""The in-memory snapshot of the live catalogue's metadata (numpy columns search filters on), kept current."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from swatch.catalog.changes import IMAGES, counters
from swatch.catalog.clusters import effective_clusters, moves_stamp, version_summaries
from swatch.catalog.db import Catalog, CatalogError
from swatch.catalog.images import image_json
from swatch.metadata.filenames import normalise_season

log = logging.getLogger(__name__)

_ROWS = """
SELECT i.id, i.path, i.filename, i.thumbnail, i.width, i.height,
       m.design, m.colourway, m.season, m.quality, m.composition, m.cluster
FROM images i LEFT JOIN metadata m ON m.image_id = i.id
WHERE i.removed_at IS NULL ORDER BY i.id
"""


@dataclass
class Column:
    """A categorical column: one code per image (-1 when empty), the display values and a lookup by key."""

    codes: np.ndarray
    values: list[str]
    lookup: dict[str, int]


def _column(raw: list[str | None], key: Any) -> Column:
    lookup: dict[str, int] = {}
    values: list[str] = []
    codes = np.full(len(raw), -1, np.int32)
    for pos, value in enumerate(raw):
        if not value:
            continue
        k = key(value)
        code = lookup.get(k)
        if code is None:
            code = lookup[k] = len(values)
            values.append(value)
        codes[pos] = code
    return Column(codes, values, lookup)


def season_key(value: str) -> str:
    """The key seasons are matched by: normalised (`AW22` -> `2022-aw`), else whitespace-collapsed, casefolded."""
    return (normalise_season(value) or " ".join(value.split())).casefold()


def text_key(value: str) -> str:
    """The key qualities are matched by: whitespace collapsed, casefolded."""
    return " ".join(value.split()).casefold()


class SnapshotRow(NamedTuple):
    """One live image as the snapshot holds it (composition decoded, fibre codes upper-case)."""

    id: int
    path: str
    filename: str
    thumbnail: str | None
    width: int | None
    height: int | None
    design: str | None
    colourway: str | None
    season: str | None
    quality: str | None
    composition: tuple[tuple[str, float], ...]
    cluster: str | None


@dataclass
class MetadataTable:
    """One immutable snapshot of the live images' metadata, rows sorted by image id."""

    generation: int
    ids: np.ndarray
    rows: list[tuple[Any, ...]]  # SnapshotRow fields, as plain tuples: a million NamedTuples build ~5x slower
    season: Column
    quality: Column
    design: Column
    fibres: dict[str, np.ndarray]
    has_composition: np.ndarray
    haystack: list[str]
    by_name: np.ndarray
    by_path: dict[str, int]
    by_filename: dict[str, int]
    fingerprint: int = 0
    facets_cache: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: list[tuple[Any, ...]], generation: int) -> MetadataTable:
        """A table of raw `_ROWS` results (composition as JSON text)."""
        n = len(rows)
        comps = [_composition(r[10]) for r in rows]
        fibres: dict[str, np.ndarray] = {}
        for pos, comp in enumerate(comps):
            for fibre, pct in comp:
                fibres.setdefault(fibre, np.zeros(n, np.float32))[pos] = pct
        has = np.fromiter((bool(c) for c in comps), dtype=bool, count=n)
        hay = [f"{r[1]}\n{r[6] or ''}\n{r[9] or ''}".casefold() for r in rows]
        names = [str(r[1]).casefold() for r in rows]
        return cls(
            generation=generation,
            ids=np.fromiter((int(r[0]) for r in rows), dtype=np.int64, count=n),
            rows=[(*r[:10], tuple(comps[pos]), r[11]) for pos, r in enumerate(rows)],
            season=_column([r[8] for r in rows], season_key),
            quality=_column([r[9] for r in rows], text_key),
            design=_column([r[6] for r in rows], lambda v: " ".join(v.split()).upper()),
            fibres=fibres, has_composition=has, haystack=hay,
            by_name=np.array(sorted(range(n), key=names.__getitem__), dtype=np.int64),
            by_path={str(r[1]): pos for pos, r in enumerate(rows)},
            by_filename={str(r[2]): pos for pos, r in enumerate(rows)},  # ids ascend: the newest wins
            fingerprint=hash(tuple(rows)),
        )

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def position(self, image_id: int) -> int | None:
        pos = int(np.searchsorted(self.ids, image_id))
        return pos if pos < len(self.ids) and int(self.ids[pos]) == int(image_id) else None

    def find(self, name: str) -> int | None:
        """Position of a live image by relative path, else by file name (Catalog.find_image's rule)."""
        pos = self.by_path.get(name)
        return pos if pos is not None else self.by_filename.get(name)

    def record(self, pos: int) -> SnapshotRow:
        """The row at `pos` as a typed record."""
        return SnapshotRow._make(self.rows[pos])

    def public(self, pos: int) -> dict[str, Any]:
        """The API's image dict of the row at `pos` (`image_json`)."""
        return image_json(SnapshotRow._make(self.rows[pos]))


def _composition(raw: str | None) -> list[tuple[str, float]]:
    try:
        return [(str(f).upper(), float(p)) for f, p in json.loads(raw or "[]")]
    except (ValueError, TypeError):
        return []


class MetadataSource:
    """Keeps a MetadataTable current: the catalogue's change counters (`swatch.catalog.changes`), read at most
    once per `interval` seconds, tell when images or their metadata were written; the rows are then re-read and
    the table replaced only if they differ. Small catalogues refresh inline, large ones in a background thread
    (the old table serves). The same on SQLite and PostgreSQL: one small query per interval, never the rows."""

    def __init__(self, catalog: Catalog, interval: float = 1.0, inline_rows: int = 50_000):
        self.catalog = catalog
        self.interval = float(interval)
        self.inline_rows = int(inline_rows)
        self._reload = threading.Lock()
        self._table: MetadataTable | None = None
        self._seen_version: tuple[tuple[str, int], ...] | None = None
        self._checked = 0.0
        self._clusters: dict[str, tuple[tuple, np.ndarray, np.ndarray]] = {}

    def table(self) -> MetadataTable:
        """The current table (loaded on first use)."""
        table = self._table
        if table is None:
            return self.refresh()
        now = time.monotonic()
        if now - self._checked >= self.interval:
            self._checked = now
            if self._data_version() != self._seen_version:
                if len(table) <= self.inline_rows:
                    return self.refresh()
                threading.Thread(target=self._background, name="swatch-metadata", daemon=True).start()
        return self._table or table

    def refresh(self) -> MetadataTable:
        """Re-read now (waits for a refresh already running) and return the current table."""
        with self._reload:
            version = self._data_version()
            rows = self.catalog.connect().execute(_ROWS).fetchall()
            old = self._table
            if old is None or hash(tuple(rows)) != old.fingerprint:
                self._table = MetadataTable.from_rows(rows, (old.generation + 1) if old else 1)
            self._seen_version = version
            self._checked = time.monotonic()
            return self._table  # type: ignore[return-value]

    def is_current(self) -> bool:
        """True when nobody has written images or metadata since the table was read."""
        return self._table is not None and self._data_version() == self._seen_version

    def _background(self) -> None:
        if not self._reload.acquire(blocking=False):
            return
        self._reload.release()
        try:
            self.refresh()
        except (sqlite3.Error, CatalogError) as exc:
            log.warning("metadata refresh failed: %s", exc)

    def _data_version(self) -> tuple[tuple[str, int], ...]:
        """The images counter (what the rows depend on)."""
        return tuple(c for c in counters(self.catalog.connect()) if c[0] == IMAGES)

    def cluster_labels(self, version: str) -> tuple[np.ndarray, np.ndarray]:
        """(sorted image ids, effective cluster of each) for a cluster version, hand moves applied; cached
        until the version gains a move."""
        stamp = moves_stamp(self.catalog.connect(), version)
        cached = self._clusters.get(version)
        if cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
        labels = effective_clusters(self.catalog, version)
        ids = np.array(sorted(labels), dtype=np.int64)
        clusters = np.array([labels[int(i)] for i in ids], dtype=np.int64)
        self._clusters[version] = (stamp, ids, clusters)
        return ids, clusters

    def cluster_versions(self) -> list[dict[str, Any]]:
        return version_summaries(self.catalog.connect())

    def close(self) -> None:
        """Nothing of its own to close: it reads through the catalogue's pool."""
