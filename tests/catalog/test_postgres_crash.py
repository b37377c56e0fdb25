"""The production server on PostgreSQL: every acknowledged rating and cluster move survives a SIGKILL amid
concurrent clients, and a PostgreSQL stopped mid-traffic is 503 with a reason, never 500, then served again."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from swatch.catalog.postgres import close_pools
from swatch.config import Settings
from swatch.testing.postgres import PostgresServer
from swatch.testing.server import Server, start_server
from swatch.testing.synthetic import synthetic_catalogue

TOKEN = "crash-test-admin-token"
CLIENTS = 4
ROUNDS = 3
UNAVAILABLE = "the catalogue database is unavailable; retry shortly"


def _call(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """(status, JSON body) of a GET, or a POST of `body` as the admin; (0, reason) when no answer came."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {TOKEN}", **({"Content-Type": "application/json"} if data else {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=30) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as exc:
        try:
            raw = exc.read()
        except (OSError, http.client.HTTPException):
            return 0, f"{exc.code} cut short"
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode(errors="replace")[:200]
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:  # the server died
        return 0, str(exc)  # under the request: no answer, or half of one


@dataclass
class Catalogue:
    """A synthetic catalogue in its own PostgreSQL database (features in `data`), with a clustering."""

    data: Path
    url: str
    names: list[str]
    ids: list[int]
    version: str = ""
    pairs: list[list[int]] = field(default_factory=list)  # two designs per client, each client's own
    targets: tuple[int, int] = (0, 1)  # the two clusters the clients move their designs between


@pytest.fixture
def catalogue(postgres_server: PostgresServer, tmp_path: Path) -> Iterator[Catalogue]:
    name = postgres_server.create_database()
    url = postgres_server.url(name)
    data = tmp_path / "data"
    made = synthetic_catalogue(Settings.from_env(data_dir=data, database_url=url), 96,
                               {"pattern": 1712, "color": 405}, seed=5)
    with psycopg.connect(url) as conn:
        names = [r[0] for r in conn.execute("SELECT filename FROM images ORDER BY id")]
    close_pools(url)
    yield Catalogue(data, url, names, [int(i) for i in made["ids"]])
    close_pools(url)
    postgres_server.drop_database(name)


def _serve(cat: Catalogue, log: Path) -> Server:
    return start_server(cat.data, admin_token=TOKEN, threads=8, log=log, env={"SWATCH_DATABASE_URL": cat.url})


def _cluster(server: Server, cat: Catalogue) -> None:
    """Run a k-means job through the API and give each client two designs of it."""
    status, body = _call(server.url + "/api/clusters", {"model": "pattern", "k": 4, "seed": 1})
    assert status in (200, 201, 202), body
    deadline = time.monotonic() + 300
    while (job := _call(f"{server.url}/api/jobs/{body['job']}")[1])["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.3)
    assert job["state"] == "done", job
    cat.version = job["result"]["version"]
    clusters = _call(f"{server.url}/api/clusters/{cat.version}")[1]["clusters"]
    pairs = [[m["id"] for m in c["members"][k : k + 2]] for c in clusters for k in range(0, c["size"] - 1, 2)]
    cat.pairs = [p for p in pairs if len(p) == 2][:CLIENTS]  # a pair shares a cluster: a move moves both or none
    assert len(cat.pairs) == CLIENTS, clusters
    cat.targets = (clusters[0]["cluster"], clusters[1]["cluster"])


@dataclass
class Traffic:
    """Concurrent clients rating and moving designs, each write tagged so the database can be asked about it."""

    server: Server
    cat: Catalogue
    tag: str
    search: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    ratings: dict[str, int] = field(default_factory=dict)  # rater tag -> acknowledged feedback id
    moves: dict[str, list[int]] = field(default_factory=dict)  # moved_by tag -> acknowledged moved ids
    refused: list[tuple[str, str]] = field(default_factory=list)  # (kind, tag) of writes answered 503
    answers: list[tuple[str, int, Any]] = field(default_factory=list)  # (kind, status, body) of every call
    threads: list[threading.Thread] = field(default_factory=list)

    def client(self, c: int) -> None:
        url, cat, n = self.server.url, self.cat, 0
        while not self.stop.is_set():
            n += 1
            tag = f"{self.tag}-c{c}-{n}"
            status, body = _call(url + "/api/feedback", {
                "query": cat.names[c], "result": cat.names[(c + n) % len(cat.names)], "model": "pattern",
                "rating": 1 + n % 5, "rater": tag})
            self.answers.append(("rating", status, body))
            if status == 201 and body.get("stored") is True:
                self.ratings[tag] = int(body["id"])
            elif status == 503:
                self.refused.append(("rating", tag))
            status, body = _call(f"{url}/api/clusters/{cat.version}/move",
                                 {"ids": cat.pairs[c], "to": cat.targets[n % 2], "by": tag})
            self.answers.append(("move", status, body))
            if status == 200 and body.get("moved"):
                self.moves[tag] = sorted(body["moved"])
            elif status == 503:
                self.refused.append(("move", tag))
            if self.search:
                status, body = _call(f"{url}/find-similar?id={cat.ids[c]}&topN=5&model=pattern")
                self.answers.append(("search", status, body))

    def __enter__(self) -> Traffic:
        self.threads = [threading.Thread(target=self.client, args=(c,), daemon=True) for c in range(CLIENTS)]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    def wait_for(self, acknowledged: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.ratings) + len(self.moves) < acknowledged:
            assert time.monotonic() < deadline, f"only {len(self.ratings) + len(self.moves)} writes acknowledged"
            time.sleep(0.05)


def _stored(url: str, tag: str) -> tuple[dict[str, int], dict[str, list[int]]]:
    """The feedback ids by rater, and the moved design ids by mover, of the writes whose tag starts with `tag`."""
    with psycopg.connect(url) as conn:
        ratings = {str(r): int(i) for r, i in conn.execute("SELECT rater, id FROM feedback WHERE rater LIKE %s",
                                                           (tag + "-%",))}
        moves: dict[str, list[int]] = {}
        for who, image in conn.execute("SELECT moved_by, image_id FROM cluster_moves WHERE moved_by LIKE %s",
                                       (tag + "-%",)):
            moves.setdefault(str(who), []).append(int(image))
    return ratings, {k: sorted(v) for k, v in moves.items()}


def test_every_acknowledged_write_survives_sigkill_of_the_server(catalogue: Catalogue, tmp_path: Path) -> None:
    lost: list[str] = []
    acknowledged = 0
    for rnd in range(ROUNDS):
        server = _serve(catalogue, tmp_path / f"server-{rnd}.log")
        try:
            if rnd == 0:
                _cluster(server, catalogue)
            with Traffic(server, catalogue, f"r{rnd}") as traffic:
                traffic.wait_for(12)
                server.kill()  # SIGKILL while the clients are still writing
        finally:
            server.kill()
        ratings, moves = _stored(catalogue.url, f"r{rnd}")
        lost += [f"rating {t}" for t, i in traffic.ratings.items() if ratings.get(t) != i]
        lost += [f"move {t}" for t, ids in traffic.moves.items() if moves.get(t) != ids]
        assert all(len(ids) == 2 for ids in moves.values()), moves  # a move is all or nothing
        bad = [(k, s) for k, s, _ in traffic.answers if s not in (0, 200, 201)]
        assert bad == [], f"round {rnd}: answers other than success or a cut connection: {bad[:5]}"
        acknowledged += len(traffic.ratings) + len(traffic.moves)
    assert lost == [], f"{len(lost)} of {acknowledged} acknowledged writes lost: {lost[:10]}"
    assert acknowledged >= ROUNDS * 12


def test_a_stopped_postgres_is_503_mid_traffic_and_the_same_server_recovers(
        catalogue: Catalogue, postgres_server: PostgresServer, tmp_path: Path) -> None:
    server = _serve(catalogue, tmp_path / "server.log")
    try:
        _cluster(server, catalogue)
        with Traffic(server, catalogue, "pg", search=True) as traffic:
            traffic.wait_for(8)
            postgres_server.stop()  # pg_ctl stop -m immediate: a crash, as the clients see it
            try:
                time.sleep(2.5)  # past the snapshot's check interval: searches must ask the database too
                outage = len(traffic.answers)
                down = {path: _call(server.url + path) for path in (
                    f"/find-similar?id={catalogue.ids[0]}&topN=5", "/api/images", "/readyz")}
                time.sleep(1.0)
                during = traffic.answers[outage:]
            finally:
                postgres_server.start()
            before = len(traffic.ratings) + len(traffic.moves)
            traffic.wait_for(before + 8)  # the same process writes again, no restart
        assert server.proc.poll() is None
        status, body = _call(f"{server.url}/find-similar?id={catalogue.ids[0]}&topN=5")
        assert status == 200 and len(body) == 5
    finally:
        server.stop()
    # reads may come from the in-memory snapshot (at most its check interval old: the request that makes the
    # check is the one refused); writes and readiness never pretend
    assert down.pop("/readyz") == (503, {"ready": False, "reason": "the catalogue cannot be read"})
    for path, (status, body) in down.items():
        assert status == 200 or body == {"error": UNAVAILABLE}, (path, status, body)
    assert {(kind, status) for kind, status, _ in during if kind != "search"} == {("rating", 503), ("move", 503)}
    assert ("search", 503) in {(kind, status) for kind, status, _ in during}, during[:5]
    statuses = {(kind, status) for kind, status, _ in traffic.answers}
    assert {s for _, s in statuses} <= {200, 201, 503}, statuses  # never 500, never a cut connection
    assert all(body == {"error": UNAVAILABLE} for _, status, body in traffic.answers if status == 503)
    ratings, moves = _stored(catalogue.url, "pg")
    assert {t: i for t, i in ratings.items() if t in traffic.ratings} == traffic.ratings  # acknowledged: kept
    assert all(moves.get(t) == ids for t, ids in traffic.moves.items())
    assert all(len(ids) == 2 for ids in moves.values()), moves  # refused or not, a move is all or nothing
    half = [t for kind, t in traffic.refused if (t in ratings if kind == "rating" else t in moves)]
    assert len(half) <= 1, f"writes answered 503 yet stored: {half}"  # only one in flight at the cut can be
