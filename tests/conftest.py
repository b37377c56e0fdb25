"""Shared pytest fixtures: a small demo catalogue ingested once per session, and app/client/runner per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from swatch.catalog.db import copy_data_dir
from swatch.config import Settings

DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def demo_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small procedural catalogue: 12 designs x 3 colourways at 128 px, with image_metadata_map.json."""
    from swatch.demo import generate_demo_catalogue

    out = tmp_path_factory.mktemp("demo_images")
    generate_demo_catalogue(out, designs=12, colourways=3, size=128, seed=3, progress=False)
    return out


@pytest.fixture(scope="session")
def ingested_dir(tmp_path_factory: pytest.TempPathFactory, demo_images: Path) -> Path:
    """A data dir with the demo catalogue ingested (all three models). Copy it before changing it."""
    from swatch.ingest import ingest

    data = tmp_path_factory.mktemp("ingested")
    ingest(demo_images, Settings.from_env(data_dir=data), progress=False)
    return data


@pytest.fixture
def data_dir(tmp_path: Path, ingested_dir: Path) -> Path:
    """A private, writable copy of the ingested data dir."""
    dest = tmp_path / "data"
    copy_data_dir(ingested_dir, dest)
    return dest


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings.from_env(data_dir=data_dir, admin_token="test-admin-token")


@pytest.fixture
def app(settings: Settings) -> Iterator[object]:
    from swatch.web import create_app

    application = create_app({"TESTING": True, "SETTINGS": settings})
    yield application


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def runner(app):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": "Bearer test-admin-token"}


def make_image(path: Path, size: tuple[int, int] = (96, 64), seed: int = 0, fmt: str | None = None) -> Path:
    """Write a small random RGB image (format from the suffix unless given)."""
    rng = np.random.default_rng(seed)
    arr = (rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, "RGB").save(path, format=fmt)
    return path


def dataset(name: str) -> Path:
    """A folder of ../shared/datasets, or skip the test cleanly when it is absent."""
    folder = DATASETS / name
    if not (folder / "labels.csv").is_file():
        pytest.skip(f"dataset {name} not present at {folder}")
    return folder
