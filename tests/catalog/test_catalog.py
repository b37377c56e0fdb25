"""Tests for the SQLite catalogue: migrations, WAL, newer schemas refused, transactions, model versions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import swatch.catalog.db as db
from swatch.catalog.db import Catalog, CatalogError, now_iso
from swatch.catalog.migrations import MIGRATIONS

#: tests of the SQLite file itself (its header, WAL, locks, raw sqlite3 readers): SQLite only
pytestmark = pytest.mark.sqlite_only

LATEST = len(MIGRATIONS)


def insert_image(conn: sqlite3.Connection, path: str, sha: str = "ab" * 32) -> int:
    stamp = now_iso()
    cur = conn.execute(
        "INSERT INTO images(root, path, filename, sha256, size_bytes, added_at, updated_at) VALUES (?,?,?,?,?,?,?)",
        ("/designs", path, Path(path).name, sha, 10, stamp, stamp),
    )
    return int(cur.lastrowid or 0)


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_new_catalogue_is_migrated_to_latest(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "catalog.db")
    assert cat.schema_version == LATEST >= 2
    assert {"images", "metadata", "composition", "model_versions", "feedback", "jobs",
            "cluster_versions", "cluster_assignments", "cluster_moves"} <= tables(cat.path)
    assert cat.connect().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    cat.close()
    assert Catalog(tmp_path / "catalog.db").schema_version == LATEST  # reopening migrates nothing


def test_migrates_an_old_catalogue_step_by_step_keeping_rows(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(str(MIGRATIONS[0]))
    conn.execute("PRAGMA user_version = 1")
    image_id = insert_image(conn, "AW22 - DUNDEE SUIT - KM11554-4.jpg")
    conn.close()
    assert "cluster_versions" not in tables(path)
    cat = Catalog(path)
    assert cat.schema_version == LATEST
    assert "cluster_versions" in tables(path)
    row = cat.image(image_id)
    assert row is not None and row.filename == "AW22 - DUNDEE SUIT - KM11554-4.jpg"


def test_wal_mode_and_foreign_keys(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "catalog.db")
    conn = cat.connect()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with cat.transaction() as tx:
        insert_image(tx, "a.jpg")
    assert (tmp_path / "catalog.db-wal").exists()
    with pytest.raises(sqlite3.IntegrityError), cat.transaction() as tx:
        tx.execute("INSERT INTO metadata(image_id, design) VALUES (999, 'KM1')")  # no such image


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    Catalog(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    with pytest.raises(CatalogError, match=f"schema version {LATEST + 1}, newer than this Swatch"):
        Catalog(path)


def test_not_a_database_is_a_catalog_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    path.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(CatalogError, match="cannot open catalogue"):
        Catalog(path)


def test_rolled_back_transaction_leaves_nothing(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "catalog.db")
    with pytest.raises(RuntimeError, match="boom"), cat.transaction() as tx:
        image_id = insert_image(tx, "a.jpg")
        tx.execute("INSERT INTO metadata(image_id, design) VALUES (?, 'KM11554')", (image_id,))
        assert tx.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 1
        raise RuntimeError("boom")
    assert cat.connect().execute("SELECT COUNT(*) FROM images").fetchone()[0] == 0
    assert cat.connect().execute("SELECT COUNT(*) FROM metadata").fetchone()[0] == 0
    other = Catalog(tmp_path / "catalog.db")  # a second connection sees nothing either
    assert other.count_images() == 0
    with cat.transaction() as tx:  # and the connection is usable afterwards
        insert_image(tx, "b.jpg")
    assert other.count_images() == 1


def test_uncommitted_rows_are_invisible_to_other_connections(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "catalog.db")
    reader = sqlite3.connect(tmp_path / "catalog.db")
    with cat.transaction() as tx:
        insert_image(tx, "a.jpg")
        assert reader.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 0  # WAL: readers not blocked
    assert reader.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 1
    reader.close()


def test_failed_migration_is_rolled_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "catalog.db"
    Catalog(path).close()
    broken = "CREATE TABLE half_done (id INTEGER); CREATE TABLE nonsense (;"
    monkeypatch.setattr(db, "MIGRATIONS", [*MIGRATIONS, broken])
    with pytest.raises(sqlite3.OperationalError):
        Catalog(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
    assert "half_done" not in tables(path)


def test_image_queries_and_removal(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "catalog.db")
    with cat.transaction() as tx:
        a = insert_image(tx, "x/a.jpg", sha="aa" * 32)
        b = insert_image(tx, "b.jpg", sha="bb" * 32)
        tx.execute("UPDATE images SET removed_at = ? WHERE id = ?", (now_iso(), b))
    assert cat.live_ids() == [a] and cat.count_images() == 1
    assert set(cat.images_under("/designs")) == {"x/a.jpg"}
    assert cat.removed_with_hash("/designs", "b.jpg", "bb" * 32) == b
    assert cat.removed_with_hash("/designs", "b.jpg", "cc" * 32) is None
    found = cat.find_image("a.jpg")
    assert found is not None and found.id == a and found.full_path == Path("/designs/x/a.jpg")
    assert cat.find_image("b.jpg") is None
    with pytest.raises(sqlite3.IntegrityError), cat.transaction() as tx:
        insert_image(tx, "x/a.jpg")  # one live row per path


def test_model_versions_registry(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "catalog.db")
    cat.register_model_version("pattern", "v1", {"kind": "pretrained"})
    cat.register_model_version("pattern", "v2", {"kind": "trained"})
    cat.register_model_version("pattern", "v10", {"kind": "trained"})
    assert cat.active_version("pattern") == "v1"  # the first one registered is active
    cat.activate_model_version("pattern", "v10")
    assert cat.active_version("pattern") == "v10"
    assert [e["version"] for e in cat.model_versions("pattern")] == ["v1", "v2", "v10"]
    with pytest.raises(KeyError, match="unknown version"):
        cat.activate_model_version("pattern", "v3")
    assert cat.active_version("pattern") == "v10"
