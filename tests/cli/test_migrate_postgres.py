"""`swatch migrate`: a SQLite catalogue copied into a real PostgreSQL, verified per table; the same searches give
the same ids in the same order after; a non-empty target refused unless --replace; the source never changed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from swatch.catalog import jobs as jobdb
from swatch.catalog.db import Catalog, now_iso
from swatch.catalog.feedback import add_rating
from swatch.catalog.images import NewImage
from swatch.catalog.postgres import close_pools
from swatch.cli import main
from swatch.config import Settings
from swatch.search.filters import parse_filters
from swatch.search.params import SearchParams
from swatch.search.service import SearchEngine
from swatch.testing.postgres import PostgresServer
from swatch.testing.synthetic import synthetic_catalogue

N, DIM = 300, 16


@pytest.fixture
def target(postgres_server: PostgresServer) -> Iterator[str]:
    name = postgres_server.create_database()
    url = postgres_server.url(name, password="pw-never-shown")
    yield url
    close_pools(url)
    postgres_server.drop_database(name)


def _sqlite_catalogue(tmp_path: Path) -> tuple[Settings, list[int]]:
    settings = Settings.from_env(data_dir=tmp_path / "data", database_url="")  # SQLite, whatever the test matrix
    made = synthetic_catalogue(settings, N, {"pattern": DIM}, seed=11, rare_fraction=0.05)
    ids = [int(i) for i in made["ids"]]
    cat = Catalog(settings.database)
    with cat.transaction() as tx:
        tx.execute("INSERT INTO cluster_versions(version, model, feature_version, k, created_at)"
                   " VALUES ('v1', 'pattern', 'v1', 3, ?)", (now_iso(),))
        tx.executemany("INSERT INTO cluster_assignments(version, image_id, cluster, distance) VALUES ('v1', ?, ?, ?)",
                       [(i, i % 3, i / 7) for i in ids])
    rows = cat.live_images()
    add_rating(cat, rows[0].path, rows[1].path, "pattern", "v1", 4, "ann")
    jobdb.insert_job(cat, "j1", "cluster", {"k": 3}, "me")
    cat.close()
    return settings, ids


def _searches(settings: Settings, ids: list[int]) -> list[list[int]]:
    engine = SearchEngine(settings, metadata_interval=0.0)
    out = []
    for ref in ids[:: N // 6]:
        for filters in ({}, {"season": "2019-SS"}, {"cluster": {"version": "v1", "ids": [1]}}):
            res = engine.similar_to_image(ref, SearchParams(top_n=30, filters=parse_filters(filters)))
            out.append([int(h["id"]) for h in res.hits] + [res.total])
    return out


def _digest(path: Path) -> str:
    """The catalogue's content as SQLite reads it (the -shm index may change under any reader; rows may not)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()


def test_migrate_copies_verifies_and_searches_the_same(tmp_path: Path, target: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    settings, ids = _sqlite_catalogue(tmp_path)
    before = _searches(settings, ids)
    source_digest = _digest(settings.db_path)
    assert main(["migrate", "--from", str(settings.db_path), "--to", target, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True and "pw-never-shown" not in json.dumps(out) and ":***@" in out["to"]
    tables = {t["table"]: t for t in out["tables"]}
    assert tables["images"]["source_rows"] == tables["images"]["target_rows"] == N
    assert tables["cluster_assignments"]["target_rows"] == N and tables["feedback"]["target_rows"] == 1
    assert all(t["equal"] and t["source_checksum"] == t["target_checksum"] for t in out["tables"])
    assert _digest(settings.db_path) == source_digest  # read through SQLite, never written to

    on_pg = dataclasses.replace(settings, database_url=target)
    assert _searches(on_pg, ids) == before  # the same ids, in the same order, with every filter kind
    pg = Catalog(target)
    assert jobdb.get_job(pg, "j1") is not None
    [new] = pg.add_images([NewImage("/designs", "new.jpg", "ab" * 32, 1, None, None, None)])
    assert new == max(ids) + 1  # ids continue after the copied ones

    assert main(["migrate", "--from", str(settings.db_path), "--to", target]) == 2  # not empty: refused
    err = [line for line in capsys.readouterr().err.splitlines() if " INFO " not in line]  # the search's log
    assert len(err) == 1 and err[0].startswith("error: the target already holds a catalogue"), err
    assert pg.count_images() == N + 1  # unchanged
    assert main(["migrate", "--from", str(settings.db_path), "--to", target, "--replace"]) == 0
    text = capsys.readouterr().out
    assert "images" in text and "equal" in text and "pw-never-shown" not in text
    assert pg.count_images() == N


def test_migrate_refuses_bad_sources(tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "--from", str(tmp_path / "missing.db"), "--to", target]) == 2
    assert "no catalogue file" in capsys.readouterr().err
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    assert main(["migrate", "--from", str(junk), "--to", target]) == 2
    assert capsys.readouterr().err.startswith("error: cannot open catalogue")
    assert junk.read_bytes() == b"not a database" * 100
    assert main(["migrate", "--from", str(junk), "--to", "sqlite:///x.db"]) == 2
