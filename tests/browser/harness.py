"""What only the browser tests share: their server's admin token and a server on a private copy of the ingested
demo catalogue (server and Chromium: swatch.testing)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import shared_conftest

from swatch.catalog.db import copy_data_dir
from swatch.testing.server import start_server

ADMIN_TOKEN = "browser-admin-token"


@dataclass
class LiveServer:
    """A running Swatch server: its base URL, its data directory and its catalogue (catalog.db or a database URL:
    what `Catalog(...)` opens to check what the page wrote)."""

    url: str
    data_dir: Path
    database: Path | str


@contextmanager
def server_on_a_copy(tmp_path_factory: pytest.TempPathFactory, ingested_dir: Path, request: pytest.FixtureRequest,
                     folder: str) -> Iterator[LiveServer]:
    """A server on a private copy of the ingested demo catalogue (on PostgreSQL, of its database too:
    SWATCH_TEST_BACKEND), stopped and its database dropped afterwards."""
    data = tmp_path_factory.mktemp(folder) / "data"
    copy_data_dir(ingested_dir, data)
    database: Path | str = data / "catalog.db"
    env: dict[str, str] = {}
    name, tests = "", shared_conftest()
    postgres = request.getfixturevalue("postgres_server") if tests.ON_POSTGRES else None
    if postgres is not None:
        name = postgres.create_database(template=tests.INGESTED_DB)
        database = env["SWATCH_DATABASE_URL"] = postgres.url(name)
        if "milvus" in tests.BACKEND:
            env["SWATCH_MILVUS_URI"] = request.getfixturevalue("milvus_uri")
    server = start_server(data, admin_token=ADMIN_TOKEN, env=env)
    try:
        yield LiveServer(server.url, data, database)
    finally:
        server.stop()
        if postgres is not None:
            from swatch.catalog.postgres import close_pools

            close_pools(str(database))
            postgres.drop_database(name)
