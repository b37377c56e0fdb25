"""/find-similar/refine: yes/no marks move the query (equal to a brute-force Rocchio truth), marks become ratings,
bad marks are a 400 that stores nothing."""

from __future__ import annotations

import numpy as np
import pytest

from swatch.catalog.db import Catalog
from swatch.config import Settings
from swatch.search.refine import ALPHA, BETA, GAMMA, moved_query
from swatch.testing.checks import assert_same_ranking, brute_force
from swatch.testing.synthetic import synthetic_catalogue

N = 600


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("refine") / "data"
    settings = Settings.from_env(data_dir=data)
    built = synthetic_catalogue(settings, N, {"pattern": 96}, seed=5)
    from swatch.web import create_app

    app = create_app({"TESTING": True, "SETTINGS": Settings.from_env(data_dir=data, admin_token="t")})
    return app.test_client(), built, settings


def _ratings(settings: Settings) -> list[tuple[int, int, int]]:
    conn = Catalog(settings.database).connect()
    return [tuple(r) for r in conn.execute("SELECT query_id, result_id, rating FROM feedback ORDER BY id")]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _truth(built: dict, queries: list[int], liked: list[int], disliked: list[int], k: int):
    rows = built["rows"]["pattern"]
    pos = {int(i): p for p, i in enumerate(built["ids"])}
    q = ALPHA * _unit(rows[[pos[i] for i in queries]].mean(0))
    if liked:
        q = q + BETA * _unit(rows[[pos[i] for i in liked]].mean(0))
    if disliked:
        q = q - GAMMA * _unit(rows[[pos[i] for i in disliked]].mean(0))
    q = q / np.linalg.norm(q)
    allowed = np.ones(len(rows), bool)
    allowed[[pos[i] for i in queries + disliked]] = False
    order, scores = brute_force(rows, q, k, allowed)
    return order, scores, rows.astype(np.float64) @ q.astype(np.float64), pos


def test_moved_query_is_rocchio_and_unit_length() -> None:
    rng = np.random.default_rng(0)
    q, liked, disliked = (rng.normal(size=(n, 8)).astype(np.float32) for n in (2, 3, 1))
    want = ALPHA * _unit(q.mean(0)) + BETA * _unit(liked.mean(0)) - GAMMA * _unit(disliked.mean(0))
    got = moved_query(q, liked, disliked)
    np.testing.assert_allclose(got, want / np.linalg.norm(want), atol=1e-6)
    np.testing.assert_allclose(moved_query(q, liked[:0], disliked[:0]), q.mean(0) / np.linalg.norm(q.mean(0)),
                               atol=1e-6)


def test_a_group_weighs_the_same_however_diverse_its_designs() -> None:
    # two liked designs pointing apart have a short plain mean; the unit mean keeps the liked weight's pull
    q = np.array([[1.0, 0.0, 0.0]], np.float32)
    apart = np.array([[0.0, 0.8, 0.6], [0.0, 0.8, -0.6]], np.float32)
    alike = np.array([[0.0, 1.0, 0.0]], np.float32)
    np.testing.assert_allclose(moved_query(q, apart, apart[:0]), moved_query(q, alike, alike[:0]), atol=1e-6)
    assert moved_query(q, alike, alike[:0])[1] > moved_query(q, alike[:0], alike[:0])[1] + 0.5


def test_without_marks_refine_equals_find_similar(made) -> None:
    client, built, _ = made
    qid = int(built["ids"][7])
    plain = client.post("/find-similar", json={"id": qid, "model": "pattern", "topN": 20}).get_json()
    refined = client.post("/find-similar/refine", json={"ids": [qid], "model": "pattern", "topN": 20})
    assert refined.status_code == 200
    assert [h["id"] for h in refined.get_json()] == [h["id"] for h in plain]
    assert refined.headers["X-Ratings-Stored"] == "0"


def test_marks_rerank_like_brute_force_and_are_kept_as_ratings(made) -> None:
    client, built, settings = made
    qid = int(built["ids"][11])
    first = client.post("/find-similar", json={"id": qid, "model": "pattern", "topN": 30}).get_json()
    shown = [h["id"] for h in first]
    liked, disliked = shown[5:8], shown[0:3]
    before = len(_ratings(settings))
    resp = client.post("/find-similar/refine", json={
        "ids": [qid], "liked": liked, "disliked": disliked, "shown": shown, "model": "pattern", "topN": 30,
        "rater": "ana"})
    assert resp.status_code == 200, resp.get_json()
    got = [h["id"] for h in resp.get_json()]
    order, scores, all_scores, pos = _truth(built, [qid], liked, disliked, 30)
    assert_same_ranking([pos[i] for i in got], order, scores, all_scores)
    assert not set(disliked) & set(got) and qid not in got
    new = _ratings(settings)[before:]
    assert sorted(new) == sorted([(qid, i, 5) for i in liked] + [(qid, i, 1) for i in disliked])
    assert resp.headers["X-Ratings-Stored"] == str(len(new))


def test_more_like_these_searches_from_several_designs(made) -> None:
    client, built, settings = made
    queries = [int(i) for i in built["ids"][[3, 40, 90]]]
    before = len(_ratings(settings))
    resp = client.post("/find-similar/refine", json={"ids": queries, "model": "pattern", "topN": 15, "store": False})
    assert resp.status_code == 200
    got = [h["id"] for h in resp.get_json()]
    order, scores, all_scores, pos = _truth(built, queries, [], [], 15)
    assert_same_ranking([pos[i] for i in got], order, scores, all_scores)
    assert len(_ratings(settings)) == before


@pytest.mark.parametrize(("body", "status", "says"), [
    pytest.param({"liked": [2]}, 400, "query design", id="no-query"),
    pytest.param({"ids": list(range(1, 12))}, 400, "at most 10", id="eleven-queries"),
    pytest.param({"ids": [1], "liked": [2, 3], "disliked": [3]}, 400, "contradictory", id="contradictory"),
    pytest.param({"ids": [1], "liked": [1]}, 400, "query design cannot be marked", id="query-marked"),
    pytest.param({"ids": [1], "liked": [2], "shown": [4, 5]}, 400, "not in the list", id="mark-not-shown"),
    pytest.param({"ids": [1], "liked": ["x"]}, 400, "liked", id="mark-not-an-id"),
    pytest.param({"ids": [1], "liked": [10**30]}, 400, "64-bit", id="mark-beyond-int64"),
    pytest.param({"ids": [10**9]}, 404, "unknown image", id="unknown-query"),
    pytest.param({"ids": [1], "disliked": [10**9]}, 404, "unknown image", id="unknown-mark"),
    pytest.param({"ids": [1], "liked": [2], "rater": {"a": 1}}, 400, "rater", id="rater-object"),
    pytest.param({"ids": [1], "model": "nope"}, 400, "unknown model", id="unknown-model"),
])
def test_bad_marks_are_refused_and_store_nothing(made, body: dict, status: int, says: str) -> None:
    client, _, settings = made
    before = _ratings(settings)
    resp = client.post("/find-similar/refine", json=body)
    assert resp.status_code == status
    error = resp.get_json()["error"]
    assert says in error and "Traceback" not in error and "/" not in error.replace("/find-similar", "")
    assert _ratings(settings) == before
