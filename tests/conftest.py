"""Shared pytest fixtures: a small demo catalogue ingested once per session, and app/client/runner per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

from swatch.catalog.db import copy_data_dir
from swatch.config import Settings

if TYPE_CHECKING:
    from swatch.testing.postgres import PostgresServer

DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"

#: the test matrix: which catalogue (and vector) back end the `app`, `client`, `settings` and catalogue fixtures
#: use. sqlite: SQLite + Faiss (the default); postgres: a real PostgreSQL 15 (swatch/testing/postgres.py) per
#: session, a fresh database per test (SWATCH_DATABASE_URL); postgres+milvus: that and Milvus (SWATCH_MILVUS_URI
#: from the `milvus_uri` fixture below). A back end that cannot start fails the tests, it never skips them.
BACKENDS = ("sqlite", "postgres", "postgres+milvus")
BACKEND = os.environ.get("SWATCH_TEST_BACKEND", "sqlite").strip() or "sqlite"
#: the pattern network is exported to ONNX once for the whole run (every test server and data dir shares it)
os.environ.setdefault("SWATCH_MODEL_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".cache" / "onnx"))
if BACKEND not in BACKENDS:
    raise pytest.UsageError(f"SWATCH_TEST_BACKEND must be one of {', '.join(BACKENDS)}, got {BACKEND!r}")
ON_POSTGRES = BACKEND.startswith("postgres")
INGESTED_DB, EMPTY_DB = "swatch_ingested", "swatch_empty"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On another back end, tests of the SQLite file itself (marked sqlite_only) are deselected, and said so."""
    if not ON_POSTGRES:
        return
    keep = [item for item in items if item.get_closest_marker("sqlite_only") is None]
    dropped = [item for item in items if item.get_closest_marker("sqlite_only") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL 15 server for the session (a temporary cluster, stopped and removed at the end)."""
    from swatch.testing.postgres import start_postgres

    server = start_postgres()  # PostgresUnavailable: every test using it errors, none is skipped
    try:
        from swatch.catalog.db import Catalog
        from swatch.catalog.postgres import close_pools

        url = server.url(server.create_database(EMPTY_DB))
        Catalog(url)  # migrated once: every test's empty database is a copy
        close_pools(url)
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Milvus back end of the postgres+milvus run (hook: swatch/testing/milvus.py's server)."""
    from swatch.testing.milvus import MilvusServer

    with MilvusServer(tmp_path_factory.mktemp("milvus-backend")) as server:
        yield server.uri


@pytest.fixture(autouse=True)
def catalogue_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str | None]:
    """On postgres: a fresh database for this test, a copy of the ingested demo catalogue when the test uses
    it (else of an empty, migrated one), as SWATCH_DATABASE_URL for everything the test starts; dropped after.
    On sqlite: nothing (each data dir has its own catalog.db)."""
    if not ON_POSTGRES:
        yield None
        return
    from swatch.catalog.postgres import close_pools

    server: PostgresServer = request.getfixturevalue("postgres_server")
    uses_demo = bool({"data_dir", "ingested_dir"} & set(request.fixturenames))
    if uses_demo:
        request.getfixturevalue("ingested_dir")
    if "milvus" in BACKEND:
        monkeypatch.setenv("SWATCH_MILVUS_URI", request.getfixturevalue("milvus_uri"))
    name = server.create_database(template=INGESTED_DB if uses_demo else EMPTY_DB)
    url = server.url(name)
    monkeypatch.setenv("SWATCH_DATABASE_URL", url)
    yield url
    close_pools(url)
    server.drop_database(name)


@pytest.fixture(scope="session")
def demo_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small procedural catalogue: 12 designs x 3 colourways at 128 px, with image_metadata_map.json."""
    from swatch.demo import generate_demo_catalogue

    out = tmp_path_factory.mktemp("demo_images")
    generate_demo_catalogue(out, designs=12, colourways=3, size=128, seed=3, progress=False)
    return out


@pytest.fixture(scope="session")
def ingested_dir(tmp_path_factory: pytest.TempPathFactory, demo_images: Path, request: pytest.FixtureRequest) -> Path:
    """A data dir with the demo catalogue ingested (all three models). Copy it before changing it."""
    from swatch.ingest import ingest

    data = tmp_path_factory.mktemp("ingested")
    if not ON_POSTGRES:
        ingest(demo_images, Settings.from_env(data_dir=data), progress=False)
        return data
    from swatch.catalog.postgres import close_pools

    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.url(server.create_database(INGESTED_DB))  # each test gets a copy (catalogue_backend)
    ingest(demo_images, Settings.from_env(data_dir=data, database_url=url), progress=False)
    close_pools(url)  # a template database must have no sessions
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
