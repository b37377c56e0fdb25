"""/find-similar and /api/search: results equal a brute-force numpy ground truth, paging, metrics, errors."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers import shared_conftest
from PIL import Image

from swatch.catalog.db import Catalog, copy_data_dir
from swatch.config import Settings
from swatch.features.base import combined_query
from swatch.features.store import FeatureStore
from swatch.features.versions import publish_combined
from swatch.testing.checks import assert_same_ranking, ranked
from swatch.testing.server import start_server
from swatch.testing.synthetic import (
    FIBRES,
    QUALITIES,
    RARE_SEASON,
    SEASONS,
    synthetic_catalogue,
    textile_rows,
)

N = 2500  # pattern rows: 2500 x 1712 values, above the flat-index size, so int8 codes with certified re-ranking


ON_POSTGRES = shared_conftest().ON_POSTGRES


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """The synthetic catalogue on the selected back end: (data dir, what was made, the template database's name
    on PostgreSQL, else None). A test that changes it works on a copy (`copy_of`)."""
    from swatch.catalog.postgres import close_pools

    data = tmp_path_factory.mktemp("synthetic") / "data"
    server = request.getfixturevalue("postgres_server") if ON_POSTGRES else None
    template = server.create_database() if server else None
    url = server.url(template) if server and template else ""
    settings = Settings.from_env(data_dir=data, database_url=url)
    made = synthetic_catalogue(settings, N, {"pattern": 1712, "color": 405}, seed=11, rare_fraction=0.02)
    publish_combined(FeatureStore(settings.features_dir), Catalog(settings.database), "v1")
    assert (data / "catalog.db").is_file() is not bool(url), "the catalogue is not on the selected back end"
    if url:
        close_pools(url)  # a template database must have no sessions
    yield data, made, template
    if server and template:
        server.drop_database(template)


def copy_of(request: pytest.FixtureRequest, synthetic: tuple[Path, dict, str | None]) -> str:
    """A new database copied from the synthetic catalogue's (dropped at the end of `request`'s scope): its URL;
    on SQLite "" (the catalogue travels in the data dir's catalog.db)."""
    from swatch.catalog.postgres import close_pools

    template = synthetic[2]
    if template is None:
        return ""
    server = request.getfixturevalue("postgres_server")
    name = server.create_database(template=template)
    url = str(server.url(name))

    def drop() -> None:
        close_pools(url)
        server.drop_database(name)

    request.addfinalizer(drop)
    return url


@pytest.fixture(scope="module")
def api(synthetic, request: pytest.FixtureRequest):
    from swatch.web import create_app

    data, made, _ = synthetic
    url = copy_of(request, synthetic)
    settings = Settings.from_env(data_dir=data, admin_token="t", database_url=url)
    return create_app({"TESTING": True, "SETTINGS": settings}).test_client(), made


@pytest.fixture
def synthetic_copy(synthetic, tmp_path: Path, request: pytest.FixtureRequest,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, dict, str]]:
    """A private copy of the synthetic catalogue for one test: (data dir, what was made, database URL or "");
    on PostgreSQL SWATCH_DATABASE_URL names the copy for everything the test starts."""
    source, made, _ = synthetic
    data = tmp_path / "data"
    copy_data_dir(source, data)
    url = copy_of(request, synthetic)
    if url:
        monkeypatch.setenv("SWATCH_DATABASE_URL", url)
    yield data, made, url


def truth_table(made: dict) -> list[dict]:
    """Per row (id order): the metadata as the synthetic builder chose it, evaluated independently."""
    meta, out = made["meta"], []
    for k, image_id in enumerate(made["ids"]):
        share = int(meta["share"][k])
        comp = {FIBRES[int(meta["main"][k])]: share}
        if share < 100:
            comp[FIBRES[int(meta["second"][k])]] = 100 - share
        out.append({"id": int(image_id), "season": RARE_SEASON if meta["rare"][k] else SEASONS[int(meta["season"][k])],
                    "quality": QUALITIES[int(meta["quality"][k])], "design": f"KM{10000 + int(meta['designs'][k]):05d}",
                    "comp": comp})
    return out


def passes(row: dict, f: dict) -> bool:
    if "season" in f and row["season"] not in f["season"]:
        return False
    if "quality" in f and row["quality"] not in f["quality"]:
        return False
    if "design" in f and row["design"] not in f["design"]:
        return False
    if "composition" in f:
        c = f["composition"]
        return row["comp"].get(c["fiber"], 0) >= c["min"]
    return True


def random_filters(rng: np.random.Generator, table: list[dict]) -> dict:
    f: dict = {}
    if rng.random() < 0.5:
        f["season"] = list(rng.choice([*SEASONS, RARE_SEASON], size=int(rng.integers(1, 3)), replace=False))
    if rng.random() < 0.3:
        f["quality"] = list(rng.choice(QUALITIES, size=int(rng.integers(1, 4)), replace=False))
    if rng.random() < 0.2:
        f["design"] = [table[int(i)]["design"] for i in rng.integers(0, len(table), 40)]
    if rng.random() < 0.3:
        f["composition"] = {"fiber": str(rng.choice(FIBRES)), "min": int(rng.choice([20, 50, 60, 80]))}
    return f


def expected(made: dict, model: str, query_pos: int, weight: float, f: dict, table: list[dict]) -> tuple:
    rows = {m: made["rows"][m].astype(np.float64) for m in ("color", "pattern")}
    if model == "color+pattern":
        c, p = rows["color"], rows["pattern"]
        q = combined_query(c[query_pos][None, :], p[query_pos][None, :], weight)[0].astype(np.float64)
        scores = np.hstack([c, p]) / np.sqrt(2.0) @ q
    else:
        scores = rows[model] @ rows[model][query_pos]
    keep = np.array([passes(r, f) for r in table]) & (np.arange(len(table)) != query_pos)
    order = ranked(scores, np.flatnonzero(keep))
    return order, scores


def check(body: list[dict], order: np.ndarray, scores: np.ndarray, made: dict, metric: str) -> None:
    got = [made["ids"].tolist().index(r["id"]) for r in body]
    assert_same_ranking(got, order, scores[order], scores, tol=1e-5)
    for r, pos in zip(body, got, strict=True):
        s = scores[pos]
        sim = min(max(s, 0.0), 1.0) if metric == "cosine" else 1.0 / (1.0 + np.sqrt(max(2.0 - 2.0 * s, 0.0)))
        assert r["similarity"] == pytest.approx(sim, abs=2e-5)


def test_random_queries_and_filters_match_brute_force(api) -> None:
    client, made = api
    table = truth_table(made)
    rng = np.random.default_rng(7)
    for trial in range(36):
        model = ["pattern", "color", "color+pattern"][trial % 3]
        pos = int(rng.integers(N))
        f = random_filters(rng, table)
        top_n = int(rng.choice([1, 5, 40, 150]))
        metric = str(rng.choice(["cosine", "euclidean"]))
        weight = round(float(rng.uniform(0, 1)), 3)
        body = {"id": int(made["ids"][pos]), "model": model, "topN": top_n, "metric": metric, "weight": weight, **f}
        resp = client.post("/find-similar", json=body)
        assert resp.status_code == 200, resp.get_json()
        order, scores = expected(made, model, pos, weight if model == "color+pattern" else 0.5, f, table)
        check(resp.get_json(), order[:top_n], scores, made, metric)
        assert int(resp.headers["X-Total-Count"]) == len(order)
        assert resp.headers["X-Exact"] == "true" and float(resp.headers["X-Elapsed-Ms"]) > 0


def test_get_parameters_paging_and_the_query_left_out(api) -> None:
    client, made = api
    table = truth_table(made)
    image = client.get(f"/api/images/{int(made['ids'][3])}").get_json()
    first = client.get(f"/find-similar?filename={image['filename']}&topN=20&season={RARE_SEASON}&season=2022-AW")
    second = client.get(f"/find-similar?filename={image['path']}&topN=10&page=2&season={RARE_SEASON}&season=2022-AW")
    assert first.status_code == second.status_code == 200
    ids = [r["id"] for r in first.get_json()]
    assert image["id"] not in ids
    assert [r["id"] for r in second.get_json()] == ids[10:20]
    assert second.headers["X-Page"] == "2" and second.headers["X-Top-N"] == "10"
    order, _ = expected(made, "pattern", 3, 0.5, {"season": [RARE_SEASON, "2022-AW"]}, table)
    assert int(first.headers["X-Total-Count"]) == len(order)
    row = first.get_json()[0]
    assert set(row) >= {"filename", "id", "design", "season", "quality", "features", "cluster", "version",
                        "similarity"}
    assert row["version"] == "v1" and row["season"] in (RARE_SEASON, "2022-AW")
    late = client.get(f"/find-similar?id={image['id']}&topN=100&page=40")
    assert late.status_code == 200 and late.get_json() == []


@pytest.mark.parametrize("query, status, words", [
    ("id=999999", 404, "unknown image"),
    ("filename=no-such-design.jpg", 404, "unknown image"),
    ("id=abc", 400, "id must be"),
    ("", 400, "filename"),
    ("id=1&model=texture", 400, "unknown model"),
    ("id=1&version=v7", 400, "unknown version"),
    ("id=1&version=../../etc", 400, "unknown version"),
    ("id=1&topN=0", 400, "topN"),
    ("id=1&topN=-3", 400, "topN"),
    ("id=1&topN=2.5", 400, "topN"),
    ("id=1&topN=1001", 400, "at most 1000"),
    ("id=1&topN=1000&page=11", 400, "too deep"),
    ("id=1&metric=manhattan", 400, "metric"),
    ("id=1&weight=1.5", 400, "weight"),
    ("id=1&composition={broken", 400, "malformed JSON"),
    ("id=1&composition={\"fiber\":\"WV\",\"min\":500}", 400, "0 to 100"),
    ("id=1&cluster={\"version\":\"v9\",\"ids\":[1]}", 400, "unknown cluster version"),
])
def test_bad_requests_get_clear_errors(api, query: str, status: int, words: str) -> None:
    client, _ = api
    resp = client.get(f"/find-similar?{query}")
    assert resp.status_code == status
    assert words in resp.get_json()["error"]


def test_malformed_json_bodies_are_400(api) -> None:
    client, _ = api
    assert client.post("/find-similar", data="{nope", content_type="application/json").status_code == 400
    assert client.post("/find-similar", json=[1, 2]).status_code == 400
    assert client.post("/find-similar", json={"id": 1, "topN": True}).status_code == 400


def test_a_newly_published_snapshot_is_searched_at_once(synthetic_copy) -> None:
    from swatch.web import create_app

    data, made, _ = synthetic_copy
    client = create_app({"TESTING": True, "SETTINGS": Settings.from_env(data_dir=data)}).test_client()
    before = client.get(f"/find-similar?id={int(made['ids'][0])}&model=color&topN=5").get_json()
    fresh = textile_rows(N, 405, np.arange(N)[::-1] // 6, seed=99)  # a different colour model
    FeatureStore(data / "image_features").publish("color", "v1", fresh, made["ids"], {"kind": "synthetic"})
    after = client.get(f"/find-similar?id={int(made['ids'][0])}&model=color&topN=5").get_json()
    scores = fresh.astype(np.float64) @ fresh[0].astype(np.float64)
    scores[0] = -np.inf
    assert [r["id"] for r in after] == [int(made["ids"][i]) for i in np.argsort(-scores, kind="stable")[:5]]
    assert [r["id"] for r in after] != [r["id"] for r in before]


# -- uploads: the real extractors on the ingested demo catalogue --

def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def test_upload_of_a_catalogue_image_finds_that_image_first(client, settings: Settings) -> None:
    catalog = Catalog(settings.database)  # catalog.db, or the test's copy of the demo database on PostgreSQL
    image = catalog.live_images()[5]
    data = image.full_path.read_bytes()
    for model in ("pattern", "color", "color+pattern"):
        resp = client.post("/api/search", data={"image": (io.BytesIO(data), "query.jpg"), "model": model,
                                                "topN": "5"}, content_type="multipart/form-data")
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        assert body[0]["id"] == image.id and body[0]["similarity"] > 0.99
        assert "extract;dur=" in resp.headers["Server-Timing"]
    filtered = client.post("/api/search", data={"image": (io.BytesIO(data), "q.jpg"), "season": image.season,
                                                "topN": "50"}, content_type="multipart/form-data")
    assert {r["season"] for r in filtered.get_json()} == {image.season}


def test_bad_uploads_are_refused(client, app) -> None:
    def post(payload: bytes, name: str = "x.jpg"):
        return client.post("/api/search", data={"image": (io.BytesIO(payload), name)},
                           content_type="multipart/form-data")

    assert post(b"this is not an image", "notes.txt").status_code == 400
    assert post(b"").status_code == 400
    assert client.post("/api/search", data={"topN": "3"}, content_type="multipart/form-data").status_code == 400
    bomb = io.BytesIO()
    Image.new("1", (9000, 9000)).save(bomb, "PNG")  # 81 M pixels in a few kilobytes
    resp = post(bomb.getvalue(), "bomb.png")
    assert resp.status_code in (400, 413) and "too large" in resp.get_json()["error"]
    settings = app.extensions["swatch.settings"]
    settings.max_upload_bytes = 2048
    big = _jpeg(Image.effect_noise((256, 256), 64).convert("RGB"))
    resp = post(big)
    assert resp.status_code == 413 and "too large" in resp.get_json()["error"]


def test_the_production_server_answers_searches(synthetic_copy) -> None:
    """`python -m swatch.serve` (waitress) warms its indexes, reports ready, and serves /find-similar."""
    import http.client
    import json

    data, made, url = synthetic_copy
    server = start_server(data, threads=4, env={"SWATCH_DATABASE_URL": url})  # once /readyz answers 200

    def get(path: str) -> tuple[int, dict, object]:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), json.loads(resp.read())
        finally:
            conn.close()

    try:
        health: dict = get("/health")[2]  # type: ignore[assignment]
        assert health.get("ready") and health["images"] == N
        status, headers, body = get(f"/find-similar?id={int(made['ids'][0])}&topN=3&model=color")
        assert status == 200 and isinstance(body, list) and len(body) == 3 and float(headers["X-Elapsed-Ms"]) > 0
    finally:
        server.stop()
