"""/api/images (pages, text search, filters), /api/images/<id>, /api/facets and /api/models (admin activation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from swatch.catalog.db import Catalog, now_iso
from swatch.config import Settings
from swatch.features.store import FeatureStore
from swatch.testing.synthetic import QUALITIES, RARE_SEASON, synthetic_catalogue, textile_rows


@pytest.fixture
def catalogue(tmp_path: Path):
    from swatch.web import create_app

    settings = Settings.from_env(data_dir=tmp_path / "data", admin_token="secret-token")
    made = synthetic_catalogue(settings, 240, {"pattern": 64, "color": 27}, seed=2, rare_fraction=0.05)
    catalog = Catalog(settings.database)
    with catalog.transaction() as tx:
        tx.execute("INSERT INTO cluster_versions(version, model, feature_version, k, created_at)"
                   " VALUES ('v1', 'pattern', 'v1', 3, ?)", (now_iso(),))
        tx.executemany("INSERT INTO cluster_assignments(version, image_id, cluster) VALUES ('v1', ?, ?)",
                       [(int(i), int(i) % 3) for i in made["ids"]])
    app = create_app({"TESTING": True, "SETTINGS": settings})
    return app.test_client(), made, settings


def test_pages_cover_the_catalogue_in_name_order(catalogue) -> None:
    client, made, _ = catalogue
    seen = []
    for page in (1, 2, 3):
        body = client.get(f"/api/images?page={page}&per_page=100").get_json()
        assert body["total"] == 240 and body["page"] == page and body["per_page"] == 100
        seen += body["images"]
    assert len(seen) == 240 and len({r["id"] for r in seen}) == 240
    names = [r["path"].casefold() for r in seen]
    assert names == sorted(names)
    first = seen[0]
    assert set(first) >= {"id", "filename", "path", "design", "season", "quality", "features", "cluster", "thumbnail"}


def test_text_search_and_filters_narrow_the_pages(catalogue) -> None:
    client, made, _ = catalogue
    body = client.get("/api/images?q=harris%20TWEED&per_page=1000").get_json()
    assert body["total"] == sum(1 for q in made["meta"]["quality"] if QUALITIES[int(q)] == "Harris Tweed")
    assert all(r["quality"] == "Harris Tweed" for r in body["images"])
    design = body["images"][0]["design"]
    by_design = client.get(f"/api/images?q={design.lower()}").get_json()
    assert by_design["total"] >= 1 and all(r["design"] == design for r in by_design["images"])
    rare = client.get(f"/api/images?season={RARE_SEASON}&per_page=1000").get_json()
    assert rare["total"] == 12 and {r["season"] for r in rare["images"]} == {RARE_SEASON}
    wool = client.get("/api/images?fiber=WV&min=60&per_page=1000").get_json()
    assert wool["total"] > 0 and all(dict(map(tuple, r["features"]))["WV"] >= 60 for r in wool["images"])
    clustered = client.get("/api/images?cluster_version=v1&cluster=2&per_page=1000").get_json()
    assert {r["id"] % 3 for r in clustered["images"]} == {2} and clustered["total"] == 80
    both = client.get('/api/images?q=tweed&composition={"fiber":"WV","min":60}&per_page=1000').get_json()
    assert {r["id"] for r in both["images"]} == (
        {r["id"] for r in wool["images"]} & {r["id"] for r in body["images"]})


@pytest.mark.parametrize("query, words", [
    ("page=0", "page"), ("per_page=5000", "per_page"), ("per_page=x", "per_page"),
    ("composition={bad", "malformed JSON"), ("cluster_version=v8&cluster=1", "unknown cluster version"),
])
def test_bad_page_requests_are_400(catalogue, query: str, words: str) -> None:
    client, _, _ = catalogue
    resp = client.get(f"/api/images?{query}")
    assert resp.status_code == 400 and words in resp.get_json()["error"]


def test_one_image_by_id(catalogue) -> None:
    client, made, _ = catalogue
    image_id = int(made["ids"][7])
    body = client.get(f"/api/images/{image_id}").get_json()
    assert body["id"] == image_id and body["design"].startswith("KM")
    assert client.get("/api/images/987654").status_code == 404


def test_facets_list_the_filter_values(catalogue) -> None:
    client, made, _ = catalogue
    facets = client.get("/api/facets").get_json()
    assert RARE_SEASON in facets["seasons"] and facets["seasons"] == sorted(facets["seasons"])
    assert set(facets["qualities"]) <= set(QUALITIES)
    assert sum(d["count"] for d in facets["designs"]) == 240 and facets["designs"][0]["count"] == 6
    assert "WV" in facets["fibres"]
    assert [v["version"] for v in facets["cluster_versions"]] == ["v1"]


def test_models_list_versions_and_admins_activate_one(catalogue) -> None:
    client, made, settings = catalogue
    store = FeatureStore(settings.features_dir)
    rows = textile_rows(240, 64, np.arange(240) // 6, seed=8)
    store.publish("pattern", "v2", rows, made["ids"], {"kind": "synthetic"})
    Catalog(settings.database).register_model_version("pattern", "v2", {"kind": "synthetic"})

    listing = {m["model"]: m for m in client.get("/api/models").get_json()["models"]}
    assert listing["pattern"]["active"] == "v1"
    versions = {v["version"]: v for v in listing["pattern"]["versions"]}
    assert set(versions) == {"v1", "v2"} and versions["v2"]["features"]["count"] == 240
    assert listing["color+pattern"]["versions"] == []

    body = {"model": "pattern", "version": "v2"}
    assert client.post("/api/models", json=body).status_code == 401
    assert client.post("/api/models", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 403
    admin = {"Authorization": "Bearer secret-token"}
    for bad in ({"model": "pattern", "version": "v5"}, {"model": "weave", "version": "v1"}, {"model": "pattern"}):
        assert client.post("/api/models", json=bad, headers=admin).status_code == 400
    resp = client.post("/api/models", json=body, headers=admin)
    assert resp.status_code == 200 and resp.get_json()["active"] == "v2"
    listing = {m["model"]: m for m in client.get("/api/models").get_json()["models"]}
    assert listing["pattern"]["active"] == "v2"

    # searches without a version now use v2's rows
    found = client.get(f"/find-similar?id={int(made['ids'][0])}&topN=3")
    assert found.headers["X-Model-Version"] == "v2"
    scores = rows @ rows[0]
    scores[0] = -np.inf
    assert [r["id"] for r in found.get_json()] == [int(made["ids"][i]) for i in np.argsort(-scores)[:3]]
