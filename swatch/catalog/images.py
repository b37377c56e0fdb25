"""The `images`, `metadata` and `composition` tables: ImageRow records, their queries and writes, and the one
public JSON shape of an image (`image_json`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from swatch.catalog.changes import IMAGES, bump
from swatch.metadata.records import MetadataRecord

if TYPE_CHECKING:
    from swatch.catalog.db import Database
else:  # the mixin is combined with Database into Catalog (swatch.catalog.db)
    Database = object


class ImageFields(Protocol):
    """What `image_json` reads: an ImageRow, or a row of the in-memory snapshot (swatch.catalog.snapshot)."""

    @property
    def id(self) -> int: ...
    @property
    def path(self) -> str: ...
    @property
    def filename(self) -> str: ...
    @property
    def thumbnail(self) -> str | None: ...
    @property
    def width(self) -> int | None: ...
    @property
    def height(self) -> int | None: ...
    @property
    def design(self) -> str | None: ...
    @property
    def colourway(self) -> str | None: ...
    @property
    def season(self) -> str | None: ...
    @property
    def quality(self) -> str | None: ...
    @property
    def composition(self) -> Sequence[tuple[str, float]]: ...
    @property
    def cluster(self) -> str | None: ...


def image_json(row: ImageFields, *, thumbnail: bool = True) -> dict[str, Any]:
    """The API's image: OpenAPI `Image` (with `thumbnail` URL, `width`, `height`), or with `thumbnail=False` the
    `ImageRef` that clusters and moves list."""
    out: dict[str, Any] = {
        "id": int(row.id), "filename": row.filename, "path": row.path, "design": row.design,
        "colourway": row.colourway, "season": row.season, "quality": row.quality,
        "features": [[f, p] for f, p in row.composition], "cluster": row.cluster,
    }
    if thumbnail:
        out["thumbnail"] = f"/thumbnails/{row.thumbnail}" if row.thumbnail else None
        out["width"] = row.width
        out["height"] = row.height
    return out


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


@dataclass(frozen=True)
class NewImage:
    """A file to add to the catalogue (or to bring back, when a removed row has this path and content)."""

    root: str
    path: str
    sha256: str
    size_bytes: int
    width: int | None
    height: int | None
    thumbnail: str | None

    @property
    def filename(self) -> str:
        return Path(self.path).name


class DetachedImage(Protocol):
    """A catalogue row without a file behind it (synthetic catalogues); `path` and `filename` may hold `{id}`."""

    @property
    def root(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def filename(self) -> str: ...
    @property
    def design(self) -> str | None: ...
    @property
    def colourway(self) -> str | None: ...
    @property
    def season(self) -> str | None: ...
    @property
    def quality(self) -> str | None: ...
    @property
    def composition(self) -> Sequence[tuple[str, float]]: ...
    @property
    def cluster(self) -> str | None: ...


_IMAGE_SELECT = """
SELECT i.id, i.root, i.path, i.filename, i.sha256, i.size_bytes, i.width, i.height, i.thumbnail, i.removed_at,
       m.design, m.colourway, m.season, m.quality, m.composition, m.cluster, m.extras
FROM images i LEFT JOIN metadata m ON m.image_id = i.id
"""

_UPSERT_METADATA = (
    "INSERT INTO metadata(image_id, design, colourway, season, quality, composition, cluster, extras)"
    " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(image_id) DO UPDATE SET design=excluded.design,"
    " colourway=excluded.colourway, season=excluded.season, quality=excluded.quality,"
    " composition=excluded.composition, cluster=excluded.cluster, extras=excluded.extras"
)


def _row_to_image(r: sqlite3.Row | tuple[Any, ...]) -> ImageRow:
    comp = tuple((str(f), float(p)) for f, p in json.loads(r[14] or "[]"))
    return ImageRow(
        id=r[0], root=r[1], path=r[2], filename=r[3], sha256=r[4], size_bytes=r[5], width=r[6], height=r[7],
        thumbnail=r[8], removed_at=r[9], design=r[10], colourway=r[11], season=r[12], quality=r[13],
        composition=comp, cluster=r[15], extras=json.loads(r[16] or "{}"),
    )


class ImageQueries(Database):
    """Reads and writes of images and their metadata (a part of Catalog)."""

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
        return [int(r[0]) for r in self.connect().execute("SELECT id FROM images WHERE removed_at IS NULL ORDER BY id")]

    # -- writes --
    def add_images(self, images: Sequence[NewImage]) -> list[int]:
        """One transaction adding `images`: each brings back a removed row at its path with its content, else
        is inserted. Returns their ids in order."""
        stamp = self.now()
        ids: list[int] = []
        with self.transaction() as tx:
            for im in images:
                revived = self.removed_with_hash(im.root, im.path, im.sha256)
                if revived is not None:
                    tx.execute("UPDATE images SET removed_at = NULL, updated_at = ? WHERE id = ?", (stamp, revived))
                    ids.append(revived)
                    continue
                cur = tx.execute(
                    "INSERT INTO images(root, path, filename, sha256, size_bytes, width, height, thumbnail,"
                    " added_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (im.root, im.path, im.filename, im.sha256, im.size_bytes, im.width, im.height, im.thumbnail,
                     stamp, stamp),
                )
                ids.append(int(cur.lastrowid or 0))
            bump(tx, IMAGES)
        return ids

    def remove_images(self, ids: Sequence[int]) -> None:
        """Mark images removed (their rows stay, for feedback and cluster history)."""
        if not ids:
            return
        with self.transaction() as tx:
            tx.executemany("UPDATE images SET removed_at = ? WHERE id = ?", [(self.now(), int(i)) for i in ids])
            bump(tx, IMAGES)

    def write_metadata(self, records: Mapping[int, MetadataRecord]) -> None:
        """Replace the metadata and composition rows of each image id in one transaction."""
        with self.transaction() as tx:
            for image_id, rec in records.items():
                comp = [[f, float(p)] for f, p in rec.composition]
                tx.execute(_UPSERT_METADATA, (
                    image_id, rec.design, rec.colourway, rec.season, rec.quality, json.dumps(comp), rec.cluster,
                    json.dumps(rec.extras, sort_keys=True, default=str),
                ))
                tx.execute("DELETE FROM composition WHERE image_id = ?", (image_id,))
                tx.executemany(
                    "INSERT INTO composition(image_id, fiber, pct) VALUES (?,?,?)"
                    " ON CONFLICT(image_id, fiber) DO UPDATE SET pct = excluded.pct",
                    [(image_id, f, p) for f, p in comp],
                )
            bump(tx, IMAGES)

    def add_detached_images(self, images: Sequence[DetachedImage]) -> list[int]:
        """Insert rows without files (ids after the largest existing one, sha256 from the id, size 0) with their
        metadata (none when `design` is None) and composition, in one transaction. Returns the new ids."""
        stamp = self.now()
        with self.transaction() as tx:
            first = int(tx.execute("SELECT COALESCE(MAX(id), 0) FROM images").fetchone()[0]) + 1
            ids = list(range(first, first + len(images)))
            tx.executemany(
                "INSERT INTO images(id, root, path, filename, sha256, size_bytes, added_at, updated_at)"
                " VALUES (?,?,?,?,?,0,?,?)",
                [(i, im.root, im.path.format(id=i), im.filename.format(id=i), f"{i:064x}", stamp, stamp)
                 for i, im in zip(ids, images, strict=True)])
            described = [(i, im) for i, im in zip(ids, images, strict=True) if im.design is not None]
            tx.executemany(
                "INSERT INTO metadata(image_id, design, colourway, season, quality, composition, cluster)"
                " VALUES (?,?,?,?,?,?,?)",
                [(i, im.design, im.colourway, im.season, im.quality,
                  json.dumps([list(c) for c in im.composition]), im.cluster)
                 for i, im in described])
            tx.executemany("INSERT INTO composition(image_id, fiber, pct) VALUES (?,?,?)",
                           [(i, fibre, float(pct)) for i, im in described for fibre, pct in im.composition])
            self.sync_ids(tx, "images")
            bump(tx, IMAGES)
        return ids
