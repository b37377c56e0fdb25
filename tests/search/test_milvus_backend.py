"""Milvus as the vector back end (SWATCH_MILVUS_URI): the same exact rankings as Faiss with every filter kind,
filters inside Milvus, hand moves and metadata edits followed, a lost engine answered 503 and recovered, a broken
collection rebuilt. A real Milvus: the milvus-lite server binary on a free port."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from swatch.catalog.db import Catalog, now_iso
from swatch.config import Settings
from swatch.search.errors import VectorBackendUnavailable
from swatch.search.filters import Filters, parse_filters
from swatch.search.milvus_backend import MilvusIndex, collection_name
from swatch.search.milvus_client import connect
from swatch.search.milvus_expr import expression, literal
from swatch.search.params import SearchParams
from swatch.search.service import SearchEngine
from swatch.testing.checks import assert_same_ranking
from swatch.testing.milvus import MilvusServer
from swatch.testing.synthetic import synthetic_catalogue

N, DIM = 600, 16


@pytest.fixture(scope="module")
def milvus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusServer]:
    with MilvusServer(tmp_path_factory.mktemp("milvus")) as server:
        yield server


@pytest.fixture
def catalogue(tmp_path: Path) -> tuple[Settings, dict[str, Any]]:
    settings = Settings.from_env(data_dir=tmp_path / "data")
    made = synthetic_catalogue(settings, N, {"pattern": DIM}, seed=5, rare_fraction=0.05)
    ids = [int(i) for i in made["ids"]]
    with Catalog(settings.database).transaction() as tx:
        tx.execute("INSERT INTO cluster_versions(version, model, feature_version, k, created_at)"
                   " VALUES ('v1', 'pattern', 'v1', 4, ?)", (now_iso(),))
        tx.executemany("INSERT INTO cluster_assignments(version, image_id, cluster) VALUES ('v1', ?, ?)",
                       [(i, i % 4) for i in ids])
    return settings, made


def _engines(settings: Settings, uri: str) -> tuple[SearchEngine, SearchEngine]:
    faiss = SearchEngine(settings, metadata_interval=0.0)
    milvus = SearchEngine(dataclasses.replace(settings, milvus_uri=uri, milvus_timeout_s=2), metadata_interval=0.0)
    return faiss, milvus


FILTERS: list[dict[str, Any]] = [
    {},
    {"season": "2019-SS"},
    {"season": ["aw22", "2023-SS"]},
    {"quality": ["dundee suit", "HARRIS TWEED"]},
    {"design": ["KM10003", "km10007", "KM10011"]},
    {"composition": {"fiber": "WV", "min": 55}},
    {"composition": {"fiber": "WV", "max": 45}},
    {"composition": {"fiber": "WV", "min": 0, "max": 45}},
    {"fiber": "PES"},
    {"composition": [{"fiber": "WV", "min": 40}, {"fiber": "PES", "max": 60}]},
    {"composition": {"fiber": "ZZ", "max": 10}},  # a fibre no image has: 0 % everywhere
    {"composition": {"fiber": "ZZ", "min": 1}},
    {"cluster": {"version": "v1", "ids": [1, 3]}},
    {"season": "2022-AW", "composition": {"fiber": "WV", "min": 50}, "cluster": {"version": "v1", "ids": [0]}},
    {"season": "2099-SS"},
    {"quality": 'Tweed" or live == true or "'},  # an injection attempt is a value like any other
]


def _check_same(faiss: SearchEngine, milvus: SearchEngine, made: dict[str, Any], ref: int,
                params: SearchParams) -> None:
    rows = made["rows"]["pattern"].astype(np.float64)
    pos = {int(i): k for k, i in enumerate(made["ids"])}
    a, b = faiss.similar_to_image(ref, params), milvus.similar_to_image(ref, params)
    assert b.total == a.total, params.filters
    assert b.exact and a.exact
    all_scores = rows @ rows[pos[ref]]
    truth = np.array([pos[h["id"]] for h in a.hits], dtype=np.int64)
    got = np.array([pos[h["id"]] for h in b.hits], dtype=np.int64)
    assert_same_ranking(got, truth, all_scores[truth], all_scores)
    assert [h["similarity"] for h in b.hits] == pytest.approx([h["similarity"] for h in a.hits], abs=1e-5)


@pytest.mark.parametrize("raw", FILTERS, ids=[json.dumps(f)[:50] for f in FILTERS])
def test_exact_searches_on_milvus_equal_faiss_with_every_filter(catalogue, milvus: MilvusServer,
                                                                raw: dict[str, Any]) -> None:
    settings, made = catalogue
    faiss, mil = _engines(settings, milvus.uri)
    filters = parse_filters(raw)
    for ref in [int(made["ids"][k]) for k in (0, 17, 301)]:
        _check_same(faiss, mil, made, ref, SearchParams(top_n=40, filters=filters))
    assert isinstance(mil.registry.index("pattern", None).index, MilvusIndex)
    _check_same(faiss, mil, made, int(made["ids"][5]), SearchParams(top_n=25, page=3, filters=filters))


def test_the_index_info_says_milvus_and_filters_run_inside_it(catalogue, milvus: MilvusServer) -> None:
    settings, made = catalogue
    _, mil = _engines(settings, milvus.uri)
    loaded = mil.registry.index("pattern", None)
    info = mil.models()["models"][[m["model"] for m in mil.models()["models"]].index("pattern")]["versions"][0]
    assert info["index"]["backend"] == "milvus" and info["index"]["kind"] == "milvus-flat"
    stored = json.loads((settings.data_dir / "indexes" / "pattern" / "v1" / loaded.folder / "info.json").read_text())
    assert stored["collection"] == loaded.index.info["collection"] and stored["count"] == N
    client = connect(milvus.uri, 5)
    expr = expression(parse_filters({"season": "2019-SS"}), frozenset())
    assert expr == 'live == true and season in ["2019-ss"]'
    found = client.query(loaded.index.info["collection"], filter=expr, output_fields=["count(*)"])
    assert int(found[0]["count(*)"]) == 30  # the filter is evaluated by Milvus itself


def test_values_are_quoted_safely() -> None:
    assert literal('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    expr = expression(Filters(quality=('x" or true or "',)), frozenset())
    assert expr == 'live == true and quality in ["x\\" or true or \\""]'
    assert collection_name("color+pattern", "v2", ".snap-v2-1-ab").startswith("swatch_color_pattern_v2_")


def test_hand_moves_and_metadata_edits_update_the_milvus_fields(catalogue, milvus: MilvusServer) -> None:
    settings, made = catalogue
    faiss, mil = _engines(settings, milvus.uri)
    ids = [int(i) for i in made["ids"]]
    params = SearchParams(top_n=300, filters=parse_filters({"cluster": {"version": "v1", "ids": [1]}}))
    before = {h["id"] for h in mil.similar_to_image(ids[2], params).hits}
    moved = next(i for i in ids if i % 4 == 0 and i != ids[2])
    assert moved not in before
    catalog = Catalog(settings.database)
    with catalog.transaction() as tx:  # a hand move: cluster 0 -> 1
        tx.execute("INSERT INTO cluster_moves(version, image_id, from_cluster, to_cluster, moved_at)"
                   " VALUES ('v1', ?, 0, 1, ?)", (moved, now_iso()))
    after = {h["id"] for h in mil.similar_to_image(ids[2], params).hits}
    assert after == before | {moved}
    _check_same(faiss, mil, made, ids[2], params)
    with catalog.transaction() as tx:  # a metadata edit and a removal
        tx.execute("UPDATE metadata SET season = '2031-SS' WHERE image_id = ?", (ids[9],))
        tx.execute("UPDATE images SET removed_at = ? WHERE id = ?", (now_iso(), ids[10]))
    season = SearchParams(top_n=10, filters=parse_filters({"season": "2031-SS"}))
    assert [h["id"] for h in mil.similar_to_image(ids[3], season).hits] == [ids[9]]
    everything = mil.similar_to_image(ids[3], SearchParams(top_n=N))
    assert ids[10] not in {h["id"] for h in everything.hits} and everything.total == N - 2
    _check_same(faiss, mil, made, ids[3], SearchParams(top_n=N))


def test_a_lost_milvus_answers_503_and_searches_recover_when_it_returns(catalogue, tmp_path: Path) -> None:
    settings, made = catalogue
    ref = int(made["ids"][4])
    with MilvusServer(tmp_path / "own-milvus") as server:
        faiss, mil = _engines(settings, server.uri)
        params = SearchParams(top_n=20, filters=parse_filters({"season": "2019-SS"}))
        first = [h["id"] for h in mil.similar_to_image(ref, params).hits]
        server.kill()
        with pytest.raises(VectorBackendUnavailable, match="Milvus"):
            mil.similar_to_image(ref, params)
        server.start()
        assert [h["id"] for h in mil.similar_to_image(ref, params).hits] == first  # same engine, no restart
        _check_same(faiss, mil, made, ref, params)


def test_a_missing_or_wrong_dimension_collection_is_rebuilt(catalogue, milvus: MilvusServer) -> None:
    settings, made = catalogue
    faiss, mil = _engines(settings, milvus.uri)
    loaded = mil.registry.index("pattern", None)
    name = loaded.index.info["collection"]
    client = connect(milvus.uri, 5)
    client.drop_collection(name)
    ref = int(made["ids"][7])
    params = SearchParams(top_n=30, filters=parse_filters({"quality": "Dundee Suit"}))
    _check_same(faiss, mil, made, ref, params)  # rebuilt on the failed search, from the feature store
    assert "missing" in loaded.index.info["rebuilt"]["reason"]
    client.drop_collection(name)  # now one of the wrong dimension under the same name
    client.create_collection(name, dimension=DIM + 3)
    _, fresh = _engines(settings, milvus.uri)
    index = fresh.registry.index("pattern", None).index
    assert "dimension" in index.info["rebuilt"]["reason"]
    assert index.info["collection"] == name
    _check_same(faiss, fresh, made, ref, params)

