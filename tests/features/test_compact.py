"""Compact rows: a projection fitted on real demo rows, applied alike to catalogue rows and uploads, refit on growth."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from swatch import versioning
from swatch.catalog.db import Catalog, copy_data_dir
from swatch.cli import main as swatch_main
from swatch.config import Settings
from swatch.features import compact
from swatch.features.base import COMBINED, l2_normalise
from swatch.features.embed import QueryEmbedder
from swatch.features.projection import ProjectionError
from swatch.features.store import FeatureStore
from swatch.ingest import ingest

DIMS = 24


@pytest.fixture(scope="module")
def compact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """90 demo designs (30 x 3 colourways) ingested with a 24-d compact pattern version."""
    from swatch.demo import generate_demo_catalogue

    images = tmp_path_factory.mktemp("compact_images")
    generate_demo_catalogue(images, designs=30, colourways=3, size=128, seed=5, progress=False)
    data = tmp_path_factory.mktemp("compact_data")
    summary = ingest(images, Settings.from_env(data_dir=data), progress=False, compact=DIMS)
    assert "pattern/v2" in summary.versions and f"{COMBINED}/v2" in summary.versions
    return data


@pytest.fixture
def settings_c(tmp_path: Path, compact_dir: Path) -> Settings:
    copy_data_dir(compact_dir, tmp_path / "data")
    return Settings.from_env(data_dir=tmp_path / "data")


def _top10(rows: np.ndarray) -> np.ndarray:
    x = l2_normalise(np.asarray(rows, dtype=np.float32))
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1)[:, :10]


def test_projection_keeps_ranking_close_to_full_rows(settings_c: Settings) -> None:
    store = FeatureStore(settings_c.features_dir)
    full, small = store.load("pattern", "v1"), store.load("pattern", "v2")
    assert small.features.shape == (len(full), DIMS) and np.array_equal(full.ids, small.ids)
    a, b = _top10(full.features), _top10(small.features)
    overlap = np.mean([len(set(x) & set(y)) / 10 for x, y in zip(a, b, strict=True)])
    assert overlap >= 0.7, overlap
    info = versioning.read_info(settings_c.models_dir / "pattern" / "v2")
    assert info["kind"] == "projection" and info["dims"] == DIMS and info["fitted_rows"] == len(full)
    assert 0.5 < info["variance_kept"] < 1.0
    catalog = Catalog(settings_c.db_path)
    assert catalog.active_version("pattern") == "v2" and catalog.active_version(COMBINED) == "v2"
    color = store.load("color", "v1")
    assert store.load(COMBINED, "v2").features.shape[1] == color.features.shape[1] + DIMS


def test_upload_query_is_projected_like_catalogue_rows(settings_c: Settings) -> None:
    from swatch.web import create_app

    catalog = Catalog(settings_c.db_path)
    store = FeatureStore(settings_c.features_dir)
    small = store.load("pattern", "v2")
    image_id = int(small.ids[7])
    row = catalog.images_by_ids([image_id])[image_id]
    data = row.full_path.read_bytes()
    query = QueryEmbedder(store).embed(Image.open(io.BytesIO(data)).convert("RGB"), "pattern", "v2")
    assert query.shape == (DIMS,)
    assert float(query @ small.features[7]) > 0.99  # the same image gives the same compact row
    client = create_app({"TESTING": True, "SETTINGS": settings_c}).test_client()
    for model in ("pattern", COMBINED):
        resp = client.post("/api/search", data={"image": (io.BytesIO(data), "up.jpg"), "model": model,
                                                "topN": "5"}, content_type="multipart/form-data")
        assert resp.status_code == 200, resp.get_json()
        assert resp.headers["X-Model-Version"] == "v2"
        best = resp.get_json()[0]
        assert best["id"] == image_id and best["similarity"] > 0.99


def test_refit_on_growth_is_a_new_version_and_older_ones_stay_searchable(settings_c: Settings,
                                                                         tmp_path: Path) -> None:
    from swatch.demo import generate_demo_catalogue
    from swatch.web import create_app

    store = FeatureStore(settings_c.features_dir)
    v2_file = settings_c.models_dir / "pattern" / "v2" / "projection.npz"
    before = v2_file.read_bytes()
    more = tmp_path / "more"
    generate_demo_catalogue(more, designs=8, colourways=3, size=128, seed=9, progress=False)
    summary = ingest(more, settings_c, progress=False)  # 114 rows: under 1.5 x 90, no refit yet
    assert not any(v.endswith("/v3") for v in summary.versions) and not store.exists("pattern", "v3")
    generate_demo_catalogue(tmp_path / "more2", designs=8, colourways=3, size=128, seed=13, progress=False)
    summary = ingest(tmp_path / "more2", settings_c, progress=False)  # 138 rows >= 135
    assert "pattern/v3" in summary.versions and f"{COMBINED}/v3" in summary.versions
    v1, v2, v3 = (store.load("pattern", v) for v in ("v1", "v2", "v3"))
    assert len(v1) == len(v2) == len(v3) == 138 and np.array_equal(v1.ids, v2.ids)
    assert v2.info["fitted_rows"] == 90 and v3.info["fitted_rows"] == 138
    assert v2_file.read_bytes() == before  # the older projection never changes; its rows gained the new designs
    client = create_app({"TESTING": True, "SETTINGS": settings_c}).test_client()
    new_id = int(v1.ids[-1])
    for version in ("v1", "v2", "v3"):
        resp = client.get(f"/find-similar?id={new_id}&model=pattern&version={version}&topN=5")
        assert resp.status_code == 200 and resp.headers["X-Model-Version"] == version
        assert len(resp.get_json()) == 5
    assert Catalog(settings_c.db_path).active_version("pattern") == "v3"


def test_catalogue_too_small_gives_a_clear_message(tmp_path: Path, ingested_dir: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    copy_data_dir(ingested_dir, tmp_path / "data")
    settings = Settings.from_env(data_dir=tmp_path / "data")
    store, catalog = FeatureStore(settings.features_dir), Catalog(settings.db_path)
    with pytest.raises(ProjectionError, match=r"has 36 pattern rows; a 256-d projection needs at least 512"):
        compact.compact(settings, catalog, store, 256)
    assert compact.compact(settings, catalog, store, None) == []  # nothing asked, nothing fitted
    assert store.versions("pattern") == ["v1"] and not (settings.models_dir / "pattern" / "v2").exists()
    demo = Path(catalog.live_images()[0].root)
    status = swatch_main(["ingest", "--images", str(demo), "--data-dir", str(settings.data_dir), "--quiet",
                          "--compact", "256"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "needs at least 512" in err[0], err
    assert swatch_main(["ingest", "--images", str(demo), "--data-dir", str(settings.data_dir), "--compact",
                        "300"]) == 2
    assert "1 to 256" in capsys.readouterr().err
