"""A large version's saved index is built at publish, before the version is visible: no server builds its own."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest

from swatch.features.store import FeatureStore, FeatureVersion, register_preparer
from swatch.search import faiss_build
from swatch.search.cache import IndexCache, prepare_on_publish
from swatch.search.faiss_build import index_dir
from swatch.testing.synthetic import textile_rows

EXACT_MAX = 2000
N, D = 6000, 768  # 4.6 M values: above the flat-scan size and EXACT_MAX, so it gets a saved HNSW graph


@pytest.fixture()
def rows() -> np.ndarray:
    return textile_rows(N, D, np.arange(N) // 6, seed=5)


def test_publish_saves_the_index_before_the_version_is_visible_and_servers_build_none(
    tmp_path: Path, rows: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    store = FeatureStore(tmp_path / "f")
    store.publish("pattern", "v1", rows[:3000], np.arange(3000), {"kind": "t"})  # small: scanned, no graph
    server = IndexCache(tmp_path / "f", tmp_path / "ix", EXACT_MAX)
    old = server.get("pattern", "v1")
    link = tmp_path / "f" / "pattern" / "v1"
    seen: list[tuple[str, str, bool]] = []
    backend = faiss_build.FaissBackend(tmp_path / "ix", EXACT_MAX)

    def prepare(fv: FeatureVersion) -> None:  # what a reader sees while the publisher builds the graph
        seen.append((os.readlink(link), fv.path.name, server.get("pattern", "v1") is old))
        backend.prepare(fv)

    register_preparer(tmp_path / "f", prepare)
    try:
        fv = store.publish("pattern", "v1", rows, np.arange(N), {"kind": "t"})
    finally:
        register_preparer(tmp_path / "f", None)
    assert seen == [(old.folder, fv.path.name, True)]  # the new snapshot was not yet visible to any reader
    assert json.loads((index_dir(tmp_path / "ix", fv) / "info.json").read_text())["kind"] == "hnsw+int8"

    prepare_on_publish(tmp_path / "f", tmp_path / "ix", EXACT_MAX)  # as `swatch ingest` does
    try:
        fresh = store.publish("pattern", "v2", rows[::-1].copy(), np.arange(N), {"kind": "t"})
    finally:
        register_preparer(tmp_path / "f", None)
    assert (index_dir(tmp_path / "ix", fresh) / "info.json").is_file()
    caplog.clear()  # only what the server does from here (the publishes above logged their own builds)
    with caplog.at_level(logging.INFO, logger="swatch.search.faiss_build"):
        for version in ("v1", "v2"):  # the server takes up both: it maps what publish saved, builds nothing
            loaded = server.get("pattern", version).index
            assert loaded.info["hnsw"]["reused"] is True and loaded.info["mapped"] is True
    assert "building" not in caplog.text
    assert server.get("pattern", "v1") is not old and index_dir(tmp_path / "ix", fv).is_dir()


def test_a_failing_prepare_is_logged_and_the_version_still_published(
    tmp_path: Path, rows: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(fv: FeatureVersion) -> None:
        raise OSError("disk full")

    register_preparer(tmp_path / "f", broken)
    try:
        with caplog.at_level(logging.WARNING, logger="swatch.features.store"):
            fv = FeatureStore(tmp_path / "f").publish("pattern", "v1", rows[:100], np.arange(100), {"kind": "t"})
    finally:
        register_preparer(tmp_path / "f", None)
    assert len(fv) == 100 and "disk full" in caplog.text
    assert FeatureStore(tmp_path / "f").load("pattern", "v1").path == fv.path
