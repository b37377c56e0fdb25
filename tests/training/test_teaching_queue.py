"""The teaching queue (GET /api/learn/queue): unasked, spread-out, informative pairs; rated pairs never come back."""

from __future__ import annotations

import numpy as np
import pytest

from swatch.catalog.db import Catalog
from swatch.config import Settings
from swatch.features.store import FeatureStore
from swatch.testing.synthetic import add_synthetic_version, synthetic_catalogue
from swatch.training.queue import teaching_pairs


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("queue") / "data"
    settings = Settings.from_env(data_dir=data)
    built = synthetic_catalogue(settings, 480, {"pattern": 64}, seed=9)
    from swatch.web import create_app

    app = create_app({"TESTING": True, "SETTINGS": Settings.from_env(data_dir=data, admin_token="t")})
    return app.test_client(), built, settings


def _design(catalog: Catalog, ids: list[int]) -> dict[int, str | None]:
    return {i: r.design for i, r in catalog.images_by_ids(ids).items()}


def test_queue_offers_spread_out_unasked_pairs_of_different_designs(made) -> None:
    client, _, settings = made
    resp = client.get("/api/learn/queue?n=8")
    assert resp.status_code == 200
    body = resp.get_json()
    pairs = body["pairs"]
    assert len(pairs) == 8 and body["version"] == "v1"
    queries = [p["query"]["id"] for p in pairs]
    assert len(set(queries)) == len(queries), "one pair per query design"
    catalog = Catalog(settings.db_path)
    designs = _design(catalog, [i for p in pairs for i in (p["query"]["id"], p["result"]["id"])])
    assert all(designs[p["query"]["id"]] != designs[p["result"]["id"]] for p in pairs)
    scores = [p["score"] for p in pairs]
    assert scores == sorted(scores, reverse=True) and all(p["reason"] for p in pairs)
    # spread: the queries are not all neighbours of one another (farthest-point sampling over the rows)
    fv = FeatureStore(settings.features_dir).load("pattern", "v1")
    pos = {int(i): k for k, i in enumerate(fv.ids)}
    rows = np.asarray(fv.features)
    vecs = rows[[pos[q] for q in queries]]
    spread = float((vecs @ vecs.T)[~np.eye(len(queries), dtype=bool)].mean())
    everyone = rows @ rows.T
    typical = float(everyone[~np.eye(len(rows), dtype=bool)].mean())
    assert spread < typical - 0.05, (spread, typical)


def test_rated_pairs_are_never_asked_again(made) -> None:
    client, _, settings = made
    first = client.get("/api/learn/queue?n=6").get_json()["pairs"]
    for p in first:
        resp = client.post("/api/feedback", json={"query": p["query"]["path"], "result": p["result"]["path"],
                                                  "model": "pattern", "rating": 5})
        assert resp.status_code == 201
    again = client.get("/api/learn/queue?n=20").get_json()["pairs"]
    asked = {(p["query"]["id"], p["result"]["id"]) for p in first}
    for p in again:
        pair = (p["query"]["id"], p["result"]["id"])
        assert pair not in asked and pair[::-1] not in asked


def test_the_queue_is_empty_with_a_reason_when_nothing_is_left_to_ask(tmp_path) -> None:
    settings = Settings.from_env(data_dir=tmp_path / "data")
    rng = np.random.default_rng(0)
    add_synthetic_version(settings, rng.normal(size=(5, 16)).astype(np.float32), model="pattern",
                          designs=["KM1"] * 5)  # five colourways of one design: nothing to learn by asking
    version, pairs = teaching_pairs(Catalog(settings.db_path), FeatureStore(settings.features_dir), n=5)
    assert version == "v1" and pairs == []
    from swatch.web import create_app

    client = create_app({"TESTING": True, "SETTINGS": settings}).test_client()
    body = client.get("/api/learn/queue").get_json()
    assert body["pairs"] == [] and "nothing left to ask" in body["message"]


@pytest.mark.parametrize("query", ["n=0", "n=51", "n=%C2%B2", "n=1e3", "model=color", "model=nope"])
def test_bad_queue_requests_are_refused(made, query: str) -> None:
    client, _, _ = made
    resp = client.get(f"/api/learn/queue?{query}")
    assert resp.status_code == 400
    assert "Traceback" not in resp.get_json()["error"]
