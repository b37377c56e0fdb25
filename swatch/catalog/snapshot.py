"""The in-memory snapshot of the live catalogue's metadata (numpy columns search filters on), kept current."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from swatch.catalog.changes import IMAGES, counters
from swatch.catalog.clusters import effective_clusters, moves_stamp, version_summaries
from swatch.catalog.columns import Digests, Haystack, KeyIndex, Labels, Lookup, Strings, Suffixes, Texts
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
    """A categorical column: one code per image (-1 when empty), the display values and a lookup by key (both
    compact: a large catalogue has a design code every few rows)."""

    codes: np.ndarray
    values: Sequence[str]
    lookup: Mapping[str, int]


def _column(raw: list[str | None], key: Any) -> Column:
    distinct: dict[str, int] = {}
    raw_codes = np.fromiter((distinct.setdefault(v, len(distinct)) if v else -1 for v in raw), np.int32, len(raw))
    lookup: dict[str, int] = {}
    values: list[str] = []
    remap = np.full(len(distinct) + 1, -1, np.int32)  # the last one: code -1 stays -1
    for value, code in distinct.items():  # first seen first: a key's value is the first row's spelling
        remap[code] = lookup.setdefault(key(value), len(values))
        if remap[code] == len(values):
            values.append(value)
    return Column(remap[raw_codes], Labels(values), KeyIndex(list(lookup)))


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
    """One immutable snapshot of the live images' metadata, rows sorted by image id, held as compact columns
    (swatch.catalog.columns): a row's record is built only when asked for."""

    generation: int
    ids: np.ndarray
    season: Column
    quality: Column
    design: Column
    fibres: dict[str, np.ndarray]
    has_composition: np.ndarray
    haystack: Haystack  # per row: path, design, quality (casefolded), searched by `matching`
    by_name: np.ndarray
    by_path: Lookup
    by_filename: Lookup
    strings: dict[str, Texts]  # SnapshotRow's text fields
    sizes: np.ndarray  # (n, 2) width, height as float64, NaN when unknown
    composition: tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]  # row ends, fibre codes, shares, fibres
    fingerprint: int = 0
    facets_cache: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: list[tuple[Any, ...]], generation: int, fingerprint: int | None = None) -> MetadataTable:
        """A table of raw `_ROWS` results (composition as JSON text); `fingerprint`: hash(tuple(rows)) if known."""
        n = len(rows)
        parsed: dict[str | None, tuple[tuple[str, float], ...]] = {}
        comps = [parsed[r[10]] if r[10] in parsed else parsed.setdefault(r[10], _composition(r[10])) for r in rows]
        counts = np.fromiter(map(len, comps), np.int64, n)
        fibre_names: dict[str, int] = {}
        codes = np.fromiter((fibre_names.setdefault(f, len(fibre_names)) for c in comps for f, _ in c), np.int32)
        shares = np.fromiter((p for c in comps for _, p in c), np.float64, len(codes))
        entry_rows = np.repeat(np.arange(n), counts)
        fibres: dict[str, np.ndarray] = {}
        for fibre, code in fibre_names.items():
            sel = codes == code
            fibres[fibre] = np.zeros(n, np.float32)
            fibres[fibre][entry_rows[sel]] = shares[sel]  # a fibre twice in a row: the last share (assigned last)
        ends = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=ends[1:])
        ends = ends.astype(np.uint32) if ends[-1] < 2**32 else ends
        # one column at a time, each one's temporary lists freed before the next: the build's peak stays near
        # the source rows' own size
        paths = [str(r[1]) for r in rows]
        text: dict[str, Texts] = {name: Strings([r[k] for r in rows], coded=True) for k, name in _CODED}
        text["path"] = path = Strings(paths)
        text["filename"] = Suffixes([r[2] for r in rows], path, paths)  # mostly the end of the path
        thumbnails = [r[3] for r in rows]
        digests = Digests.of(thumbnails)
        text["thumbnail"] = digests if digests is not None else Strings(thumbnails)
        del thumbnails
        by_path = Lookup(paths, text["path"])
        names = [p.casefold() for p in paths]
        del paths
        by_name = np.array(sorted(range(n), key=names.__getitem__), dtype=np.int64)
        del names
        return cls(
            generation=generation,
            ids=np.fromiter((int(r[0]) for r in rows), dtype=np.int64, count=n),
            season=_column([r[8] for r in rows], season_key),
            quality=_column([r[9] for r in rows], text_key),
            design=_column([r[6] for r in rows], lambda v: " ".join(v.split()).upper()),
            fibres=fibres, has_composition=counts > 0,
            haystack=Haystack([f"{r[1]}\n{r[6] or ''}\n{r[9] or ''}".casefold() for r in rows]),
            by_name=by_name, by_path=by_path,
            by_filename=Lookup([str(r[2]) for r in rows], text["filename"]),  # ids ascend: the newest wins
            strings=text,
            sizes=np.fromiter((np.nan if v is None else v for r in rows for v in (r[4], r[5])), np.float64,
                              2 * n).reshape(n, 2),
            composition=(ends, codes, shares, list(fibre_names)),
            fingerprint=hash(tuple(rows)) if fingerprint is None else fingerprint,
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

    def matching(self, words: tuple[str, ...]) -> np.ndarray:
        """Per row: whether its path, design or quality (casefolded) holds every one of `words` (casefolded)."""
        keep = np.ones(len(self), bool)
        for word in words:
            keep &= self.haystack.contains(word)
        return keep

    def row(self, pos: int) -> tuple[Any, ...]:
        """The row at `pos` as a plain tuple of SnapshotRow's fields."""
        s = self.strings
        ends, codes, shares, fibre_names = self.composition
        a, b = int(ends[pos]), int(ends[pos + 1])
        comp = tuple((fibre_names[int(c)], float(p)) for c, p in zip(codes[a:b], shares[a:b], strict=True))
        w, h = (None if v != v else int(v) for v in self.sizes[pos].tolist())  # NaN != NaN: unknown
        return (int(self.ids[pos]), s["path"][pos], s["filename"][pos], s["thumbnail"][pos], w, h,
                s["design"][pos], s["colourway"][pos], s["season"][pos], s["quality"][pos], comp, s["cluster"][pos])

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        """Every row as a tuple (materialises the whole table: for tests and small tables)."""
        return [self.row(pos) for pos in range(len(self))]

    def record(self, pos: int) -> SnapshotRow:
        """The row at `pos` as a typed record."""
        return SnapshotRow._make(self.row(pos))

    def public(self, pos: int) -> dict[str, Any]:
        """The API's image dict of the row at `pos` (`image_json`)."""
        return image_json(SnapshotRow._make(self.row(pos)))

    @property
    def nbytes(self) -> int:
        """Bytes of the table's arrays and buffers (its small Python objects aside)."""
        arrays = [self.ids, self.by_name, self.sizes, self.has_composition, *self.fibres.values(),
                  *self.composition[:3], self.season.codes, self.quality.codes, self.design.codes]
        return (sum(int(a.nbytes) for a in arrays) + sum(s.nbytes for s in self.strings.values())
                + self.haystack.nbytes + self.by_path.nbytes + self.by_filename.nbytes)


#: SnapshotRow's text fields with few distinct values and their place in a `_ROWS` row
_CODED = ((6, "design"), (7, "colourway"), (8, "season"), (9, "quality"), (11, "cluster"))


def _composition(raw: str | None) -> tuple[tuple[str, float], ...]:
    try:
        return tuple((str(f).upper(), float(p)) for f, p in json.loads(raw or "[]"))
    except (ValueError, TypeError):
        return ()


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
            old, fingerprint = self._table, hash(tuple(rows))
            if old is None or fingerprint != old.fingerprint:
                self._table = MetadataTable.from_rows(rows, (old.generation + 1) if old else 1, fingerprint)
            del rows
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
