"""Milvus at publish (SWATCH_MILVUS_URI): publishing a version creates, fills, indexes and loads its collection
(servers reuse it without rewriting it); retiring a snapshot releases and drops its collection; above the exact
threshold milvus-lite gets the exact FLAT search (its IVF_FLAT ignores nprobe) with recall measured into info.json.
A real Milvus: milvus-lite's server binary on a free port."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from swatch.config import Settings
from swatch.features.store import FeatureStore, register_preparer
from swatch.search.cache import prepare_on_publish, prepare_published, publish_backend
from swatch.search.milvus_backend import collection_name
from swatch.search.milvus_client import connect
from swatch.search.params import SearchParams
from swatch.search.service import SearchEngine
from swatch.testing.milvus import MilvusServer
from swatch.testing.synthetic import synthetic_catalogue

N, DIM, EXACT_MAX = 500, 16, 100  # above the exact threshold: HNSW asked for, FLAT on milvus-lite


@pytest.fixture(scope="module")
def milvus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusServer]:
    with MilvusServer(tmp_path_factory.mktemp("milvus-publish")) as server:
        yield server


@pytest.fixture
def published(tmp_path: Path, milvus: MilvusServer) -> tuple[Settings, dict[str, Any]]:
    settings = Settings.from_env(data_dir=tmp_path / "data")
    settings = dataclasses.replace(settings, milvus_uri=milvus.uri, milvus_timeout_s=5,
                                   exact_index_max_rows=EXACT_MAX)
    made = synthetic_catalogue(settings, N, {"pattern": DIM}, seed=3)
    return settings, made


def _info(settings: Settings, snap: str) -> dict[str, Any]:
    return dict(json.loads((settings.data_dir / "indexes" / "pattern" / "v1" / snap / "info.json").read_text()))


def test_publishing_loads_the_collection_and_servers_reuse_it(published, milvus: MilvusServer) -> None:
    settings, made = published
    snap = FeatureStore(settings.features_dir).load("pattern", "v1").path.name
    name = collection_name("pattern", "v1", snap)
    client = connect(milvus.uri, 5)
    assert not client.has_collection(name)  # nothing in Milvus before the publish step
    out = prepare_published(settings.features_dir, settings.data_dir / "indexes", EXACT_MAX, ["pattern/v1"],
                            publish_backend(settings))
    assert out["pattern/v1"]["rows"] == N and out["pattern/v1"]["kind"] == "milvus-flat"
    assert str(client.get_load_state(name)["state"]).endswith("Loaded")
    assert int(client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]) == N
    info = _info(settings, snap)
    assert info["collection"] == name and info["index_type"] == "FLAT" and "hnsw_refused" in info
    assert info["recall_at_k"]["recall"] >= 0.95 and info["recall_at_k"]["queries"] == 100
    assert info["reused"] is False and info["fields_digest"]

    engine = SearchEngine(settings, metadata_interval=0.0)
    loaded = engine.registry.index("pattern", None)
    assert loaded.index.info["reused"] is True  # the publish step's collection, not a second build
    assert loaded.index.info["recall_at_k"] == info["recall_at_k"]  # kept, not measured again
    rows = made["rows"]["pattern"]
    ref = 7
    res = engine.similar_to_image(int(made["ids"][ref]), SearchParams(top_n=20))
    assert res.exact  # FLAT: exact answers, as X-Exact says
    truth = np.argsort(-(rows @ rows[ref]), kind="stable")[:21]
    got = [int(h["id"]) for h in res.hits]
    assert set(got) <= {int(made["ids"][k]) for k in truth} and len(got) == 20


def test_retiring_a_snapshot_releases_and_drops_its_collection(published, milvus: MilvusServer) -> None:
    settings, made = published
    store = FeatureStore(settings.features_dir)
    client = connect(milvus.uri, 5)
    prepare_on_publish(settings.features_dir, settings.data_dir / "indexes", EXACT_MAX, publish_backend(settings))
    try:
        names = [collection_name("pattern", "v1", store.load("pattern", "v1").path.name)]
        assert not client.has_collection(names[0])  # published before the publish step was registered
        rows, ids = made["rows"]["pattern"], np.asarray(made["ids"], np.int64)
        for shift in (1, 2):  # two republishes: the store keeps two snapshots, the oldest is retired
            store.publish("pattern", "v1", np.roll(rows, shift, axis=1), ids, {"kind": "synthetic"})
            names.append(collection_name("pattern", "v1", store.load("pattern", "v1").path.name))
            assert str(client.get_load_state(names[-1])["state"]).endswith("Loaded")  # loaded at publish
        client.create_collection(names[0], dimension=DIM)  # as if the first snapshot had been loaded too
        engine = SearchEngine(settings, metadata_interval=0.0)
        engine.similar_to_image(int(ids[0]), SearchParams(top_n=5))  # a server switching to the newest
        on_disk = {p.name for p in (settings.features_dir / "pattern").glob(".snap-v1-*")}
        assert len(on_disk) == 2
        assert not client.has_collection(names[0])  # its snapshot left the store: released and dropped
        assert client.has_collection(names[1]) and client.has_collection(names[2])
        store.publish("pattern", "v1", rows, ids, {"kind": "synthetic"})  # a third: names[1] leaves the store
        names.append(collection_name("pattern", "v1", store.load("pattern", "v1").path.name))
        engine.similar_to_image(int(ids[0]), SearchParams(top_n=5))
        assert not client.has_collection(names[1])
        assert client.has_collection(names[2]) and client.has_collection(names[3])
    finally:
        register_preparer(settings.features_dir, None)
