"""Tests for the per-table catalogue methods: image writes, the one image JSON shape, jobs and feedback reads."""

from __future__ import annotations

from pathlib import Path

from swatch.catalog import jobs as jobdb
from swatch.catalog.db import Catalog
from swatch.catalog.feedback import add_rating, ratings_of
from swatch.catalog.images import NewImage, image_json
from swatch.catalog.snapshot import MetadataSource
from swatch.config import Settings
from swatch.metadata import MetadataRecord

REF_KEYS = ["id", "filename", "path", "design", "colourway", "season", "quality", "features", "cluster"]


def _new(path: str, sha: str = "ab" * 32) -> NewImage:
    return NewImage("/designs", path, sha, 10, 40, 30, f"{sha[:2]}/{sha}.jpg")


def test_add_remove_and_revive_images(tmp_path: Path) -> None:
    cat = Catalog(Settings.from_env(data_dir=tmp_path).database)
    a, b = cat.add_images([_new("x/a.jpg"), _new("b.jpg", "cd" * 32)])
    assert cat.count_images() == 2 and cat.live_ids() == [a, b]
    row = cat.image(a)
    assert row is not None and row.filename == "a.jpg" and (row.width, row.height) == (40, 30)
    cat.remove_images([a])
    assert cat.live_ids() == [b] and cat.removed_with_hash("/designs", "x/a.jpg", "ab" * 32) == a
    assert cat.add_images([_new("x/a.jpg")]) == [a]  # same path and content: the old row comes back
    assert cat.live_ids() == [a, b]
    cat.remove_images([])


def test_metadata_and_the_public_shapes(tmp_path: Path) -> None:
    cat = Catalog(Settings.from_env(data_dir=tmp_path).database)
    (a,) = cat.add_images([_new("a.jpg")])
    cat.write_metadata({a: MetadataRecord(design="KM1", season="2022-AW", composition=[("WV", 60.0)],
                                          extras={"note": "x"})})
    row = cat.image(a)
    assert row is not None and row.composition == (("WV", 60.0),) and row.extras == {"note": "x"}
    assert [tuple(r) for r in cat.connect().execute("SELECT fiber, pct FROM composition")] == [("WV", 60.0)]
    ref = image_json(row, thumbnail=False)
    assert list(ref) == REF_KEYS and ref["features"] == [["WV", 60.0]]
    full = image_json(row)
    assert list(full) == [*REF_KEYS, "thumbnail", "width", "height"]
    assert full["thumbnail"] == f"/thumbnails/{row.thumbnail}" and (full["width"], full["height"]) == (40, 30)
    source = MetadataSource(cat, interval=0.0)
    table = source.table()
    assert table.public(0) == full and table.record(0).design == "KM1"
    source.close()
    cat.write_metadata({a: MetadataRecord()})  # replaced, composition rows too
    assert cat.connect().execute("SELECT COUNT(*) FROM composition").fetchone()[0] == 0


def test_job_counts_and_ratings(tmp_path: Path) -> None:
    cat = Catalog(Settings.from_env(data_dir=tmp_path).database)
    assert jobdb.count_by_state(cat) == {}
    jobdb.insert_job(cat, "j1", "cluster", {}, "me")
    jobdb.insert_job(cat, "j2", "cluster", {}, "me")
    jobdb.update_job(cat, "j2", state="done")
    assert jobdb.count_by_state(cat) == {"queued": 1, "done": 1}
    a, b = cat.add_images([_new("a.jpg"), _new("b.jpg", "cd" * 32)])
    first = add_rating(cat, "a.jpg", "b.jpg", "pattern", "v1", 5)
    add_rating(cat, "b.jpg", "a.jpg", "color", "v1", 2)
    assert [tuple(r) for r in ratings_of(cat, "pattern")] == [(first, a, b, 5)]
