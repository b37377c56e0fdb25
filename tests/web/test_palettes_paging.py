"""The page at scale: palettes stored at ingest and served without decoding; catalogue pages cover each image once."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from swatch.catalog.db import Catalog
from swatch.catalog.palettes import stored_palette
from swatch.config import Settings
from swatch.features.color import DEFAULT_PALETTE_K, thumbnail_palette
from swatch.ingest import ingest
from swatch.testing.synthetic import SyntheticImage, add_images, synthetic_catalogue

COLOURS = [((200, 30, 40), (240, 220, 200), (20, 40, 120)), ((30, 140, 60), (250, 250, 250), (90, 60, 30)),
           ((230, 180, 20), (60, 20, 90), (10, 10, 10))]


def _stripes(path: Path, colours: tuple[tuple[int, int, int], ...], seed: int) -> None:
    rng = np.random.default_rng(seed)
    arr = np.zeros((120, 160, 3), np.float64)
    for x in range(160):
        arr[:, x] = colours[(x // (8 + 4 * seed)) % len(colours)]
    arr = np.clip(arr + rng.normal(0, 6, arr.shape), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, "RGB").save(path, "PNG")


@pytest.fixture
def striped(tmp_path: Path):
    """Three striped designs ingested (colour model only) into a catalogue of their own, and its app client."""
    images = tmp_path / "images"
    for k, colours in enumerate(COLOURS):
        _stripes(images / f"AW22 - DUNDEE SUIT - KM1000{k}-1.png", colours, k)
    settings = Settings.from_env(data_dir=tmp_path / "data")
    ingest(images, settings, models=("color",), progress=False, log=lambda _msg: None)
    from swatch.web import create_app

    app = create_app({"TESTING": True, "SETTINGS": settings})
    catalog = Catalog(settings.database)
    return app.test_client(), images, catalog.live_images(), settings, catalog


def _forget_palettes(settings: Settings) -> None:
    """What a catalogue ingested before palettes were stored looks like."""
    with Catalog(settings.database).transaction() as tx:
        tx.execute("DELETE FROM palettes")


def test_palette_stored_at_ingest_equals_the_on_demand_one(striped) -> None:
    client, _images, rows, settings, catalog = striped
    stored = {}
    for row in rows:
        palette = stored_palette(catalog, row.sha256, DEFAULT_PALETTE_K)
        assert palette is not None and len(palette) == DEFAULT_PALETTE_K, row.path
        data = (settings.thumbnails_dir / row.thumbnail).read_bytes()
        assert palette == thumbnail_palette(data, DEFAULT_PALETTE_K, settings.max_image_pixels, 1)
        stored[row.id] = palette
    assert len({str(p) for p in stored.values()}) == len(rows)  # three designs, three palettes
    _forget_palettes(settings)
    for row in rows:  # computed on demand from the thumbnail, as before ingest stored them: the same colours
        res = client.get(f"/api/images/{row.id}/palette")
        assert res.status_code == 200
        assert res.get_json() == {"id": row.id, "palette": stored[row.id]}
        assert stored_palette(catalog, row.sha256, DEFAULT_PALETTE_K) == stored[row.id]  # and stored now


def test_stored_palette_is_served_without_decoding_anything(striped) -> None:
    client, images, rows, settings, catalog = striped
    row = rows[0]
    expected = stored_palette(catalog, row.sha256, DEFAULT_PALETTE_K)
    (settings.thumbnails_dir / row.thumbnail).unlink()
    (images / row.path).unlink()
    res = client.get(f"/api/images/{row.id}/palette")
    assert res.status_code == 200 and res.get_json()["palette"] == expected
    missing = client.get(f"/api/images/{row.id}/palette?k=3")  # not stored, and nothing left to decode
    assert missing.status_code == 404 and "missing" in missing.get_json()["error"]


def test_an_image_ingested_before_gets_its_palette_stored_on_first_request(striped) -> None:
    client, _images, rows, settings, catalog = striped
    row = rows[1]
    _forget_palettes(settings)
    first = client.get(f"/api/images/{row.id}/palette?k=4").get_json()["palette"]
    assert stored_palette(catalog, row.sha256, 4) == first
    (settings.thumbnails_dir / row.thumbnail).unlink()
    assert client.get(f"/api/images/{row.id}/palette?k=4").get_json()["palette"] == first


def _all_pages(client, per_page: int, **params: str) -> tuple[list[int], int]:
    seen: list[int] = []
    page, total = 1, -1
    while True:
        body = client.get("/api/images", query_string={**params, "page": page, "per_page": per_page}).get_json()
        total = body["total"]
        if not body["images"]:
            return seen, total
        assert len(body["images"]) <= per_page
        seen += [img["id"] for img in body["images"]]
        page += 1


@pytest.mark.parametrize("params", [{}, {"season": "2022-AW"}, {"q": "dundee"}, {"season": "2022-AW", "q": "km1"}])
def test_paging_returns_every_image_exactly_once(tmp_path: Path, params: dict[str, str]) -> None:
    settings = Settings.from_env(data_dir=tmp_path / "data")
    made = synthetic_catalogue(settings, 1000, dims={})
    from swatch.web import create_app

    client = create_app({"TESTING": True, "SETTINGS": settings}).test_client()
    seen, total = _all_pages(client, 37, **params)
    assert len(seen) == len(set(seen)) == total
    catalog = Catalog(settings.database)
    rows = catalog.images_by_ids([int(i) for i in made["ids"]])
    wanted = {i for i, r in rows.items()
              if (not params.get("season") or r.season == params["season"])
              and all(w in f"{r.path}\n{r.design}\n{r.quality}".casefold() for w in params.get("q", "").split())}
    assert set(seen) == wanted and 0 < len(wanted) <= 1000
    names = [rows[i].path.casefold() for i in seen]
    assert names == sorted(names)  # name order, across page boundaries
    beyond = client.get("/api/images", query_string={**params, "page": 10**15, "per_page": 37}).get_json()
    assert beyond["images"] == [] and beyond["total"] == total


def test_a_remembered_page_order_follows_catalogue_changes(tmp_path: Path) -> None:
    settings = Settings.from_env(data_dir=tmp_path / "data")
    synthetic_catalogue(settings, 300, dims={})
    from swatch.web import create_app

    client = create_app({"TESTING": True, "SETTINGS": settings}).test_client()
    query = {"q": "dundee", "per_page": 10}
    before = client.get("/api/images", query_string=query).get_json()["total"]
    add_images(settings, [SyntheticImage("synthetic://more", f"more/Dundee {k}.jpg", f"Dundee {k}.jpg", "KM9")
                          for k in range(5)])
    deadline = time.monotonic() + 10
    while client.get("/api/images", query_string=query).get_json()["total"] == before:
        assert time.monotonic() < deadline, "the text search kept its old order after the catalogue grew"
        time.sleep(0.2)
    assert client.get("/api/images", query_string=query).get_json()["total"] == before + 5
