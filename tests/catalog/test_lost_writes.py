"""Acknowledged ratings survive a SIGKILL even after another process opened and closed the catalogue (issue 10)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from swatch.testing.server import start_server

#: tests of the SQLite file itself (its header, WAL, locks, raw sqlite3 readers): SQLite only
pytestmark = pytest.mark.sqlite_only

ROUNDS = 10
RATINGS_PER_ROUND = 8


def _call(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """(status, JSON body) of a GET, or a POST of `body`; an error status is returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")[:200]


def _other_process_opens_and_closes(db: Path) -> list[str]:
    """What an ingest run or a `sqlite3` shell does: open the catalogue, read it, close it, exit."""
    py = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
          " print(c.execute('SELECT COUNT(*) FROM feedback').fetchone()[0]); c.close()")
    done = [subprocess.run([sys.executable, "-c", py, str(db)], capture_output=True, text=True, check=True).stdout]
    if shutil.which("sqlite3"):
        done.append(subprocess.run(["sqlite3", str(db), "SELECT COUNT(*) FROM feedback;"], capture_output=True,
                                   text=True, check=True).stdout)
    return done


def _stored_ids(db: Path) -> set[int]:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {int(r[0]) for r in conn.execute("SELECT id FROM feedback")}
    finally:
        conn.close()


def test_no_acknowledged_rating_is_lost_over_ten_rounds(tmp_path: Path, data_dir: Path) -> None:
    db = data_dir / "catalog.db"
    conn = sqlite3.connect(db)
    names = [r[0] for r in conn.execute("SELECT filename FROM images WHERE removed_at IS NULL ORDER BY id LIMIT 6")]
    conn.close()
    assert len(names) == 6
    acknowledged: list[int] = []
    lost_by_round: list[int] = []
    errors: list[str] = []  # any answer but success: the old code also gave 500 (disk I/O error) here
    for rnd in range(ROUNDS):
        server = start_server(data_dir, admin_token="lost-writes-token", threads=4,
                              log=tmp_path / f"server-{rnd}.log")
        url = server.url
        this_round: list[int] = []
        try:
            # the requests that used to build a fresh Catalog (and open and close catalog.db with open())
            for path in ("/api/train/versions?model=pattern", "/api/models/compare?model=pattern&a=v1&b=v1"):
                status, _ = _call(url + path)
                if status != 200:
                    errors.append(f"round {rnd}: GET {path} -> {status}")
            assert len(_other_process_opens_and_closes(db)) >= 1
            for k in range(RATINGS_PER_ROUND):
                status, body = _call(url + "/api/feedback", {
                    "query": names[k % 3], "result": names[3 + k % 3], "model": "pattern",
                    "rating": 1 + (rnd + k) % 5, "rater": f"round-{rnd}",
                })
                if status == 201 and body["stored"] is True:
                    this_round.append(int(body["id"]))
                else:
                    errors.append(f"round {rnd}: POST /api/feedback -> {status}")
        finally:
            server.kill()
        acknowledged += this_round
        stored = _stored_ids(db)
        lost_by_round.append(sum(1 for i in this_round if i not in stored))
    missing = set(acknowledged) - _stored_ids(db)  # none lost later either
    assert (sum(lost_by_round), len(missing)) == (0, 0), (
        f"{sum(lost_by_round)} of {len(acknowledged)} acknowledged ratings lost; lost per round: {lost_by_round};"
        f" {len(errors)} failed requests")
    assert errors == []
    assert len(acknowledged) == ROUNDS * RATINGS_PER_ROUND
    assert len(set(acknowledged)) == len(acknowledged), f"rating ids handed out twice: {acknowledged}"


@pytest.mark.parametrize("content", [b"this is not SQLite" * 100, b"SQLite format 3\x00" + b"\x01" * 40])
def test_a_file_that_is_not_a_catalogue_is_refused_and_left_alone(tmp_path: Path, content: bytes) -> None:
    from swatch.catalog.db import Catalog, CatalogError

    path = tmp_path / "catalog.db"
    path.write_bytes(content)
    with pytest.raises(CatalogError, match="cannot open catalogue"):
        Catalog(path)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.db"]  # no -wal, -shm or -journal left


def test_a_directory_is_refused(tmp_path: Path) -> None:
    from swatch.catalog.db import Catalog, CatalogError

    (tmp_path / "catalog.db").mkdir()
    with pytest.raises(CatalogError, match="cannot open catalogue"):
        Catalog(tmp_path / "catalog.db")


def test_catalogues_of_one_file_share_one_connection_per_thread(tmp_path: Path) -> None:
    from swatch.catalog.db import Catalog

    first = Catalog(tmp_path / "catalog.db")
    again = Catalog(tmp_path / "catalog.db")
    linked = tmp_path / "linked.db"
    linked.symlink_to(tmp_path / "catalog.db")
    assert again.connect() is first.connect() is Catalog(linked).connect()
    assert Catalog(tmp_path / "other.db").connect() is not first.connect()
