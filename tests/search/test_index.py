"""Faiss indexes: certified exact search, HNSW above the threshold, the cache's snapshot swap, info sidecars."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from swatch.features.store import FeatureStore
from swatch.search.cache import IndexCache
from swatch.search.faiss_build import build_index
from swatch.search.faiss_index import FLOAT_SLACK
from swatch.testing.checks import assert_same_ranking, brute_force
from swatch.testing.synthetic import textile_rows


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("features")
    n, d = 6000, 768  # 4.6 M values: int8 codes with certified re-ranking
    rows = textile_rows(n, d, np.arange(n) // 6, seed=5)
    fv = FeatureStore(root / "image_features").publish("pattern", "v1", rows, np.arange(10, 10 + n), {"kind": "t"})
    return root, fv, rows


def test_int8_search_is_exact_for_random_queries_and_masks(published) -> None:
    root, fv, rows = published
    index = build_index(fv, root / "indexes", exact_max_rows=100_000)
    assert index.info["kind"] == "int8+rerank" and index.residual > 0
    rng = np.random.default_rng(0)
    for trial in range(40):
        q = rows[rng.integers(len(rows))]
        if trial % 3 == 0:  # a combined-style query of another length
            q = q * np.float32(rng.uniform(0.6, 1.4))
        k = int(rng.choice([1, 10, 100, 400]))
        allowed = None if trial % 2 else rng.random(len(rows)) < rng.choice([0.005, 0.05, 0.5, 0.95])
        hits = index.search(q, k, allowed)
        truth, truth_scores = brute_force(rows, q, k, allowed)
        assert hits.exact
        assert_same_ranking(hits.rows, truth, truth_scores, rows.astype(np.float64) @ q.astype(np.float64))
        np.testing.assert_allclose(hits.scores, truth_scores, atol=1e-5)


def test_combined_rows_of_odd_width_get_padded_scaled_codes_and_stay_exact(tmp_path: Path) -> None:
    from swatch.features.base import combine_color_pattern, combined_query

    n, dc, dp = 6000, 101, 600  # 4.2 M values: int8 codes, 701 columns (not a SIMD multiple)
    designs = np.arange(n) // 6
    color, pattern = textile_rows(n, dc, designs, seed=7), textile_rows(n, dp, designs, seed=8)
    color[:, : dc // 2] *= 4.0  # columns of very different ranges, as color beside pattern
    color /= np.linalg.norm(color, axis=1, keepdims=True)
    rows = combine_color_pattern(color, pattern)
    fv = FeatureStore(tmp_path / "f").publish("color+pattern", "v1", rows, np.arange(n), {"kind": "combined"})
    index = build_index(fv, tmp_path / "indexes", exact_max_rows=100_000)
    assert index.info["kind"] == "int8+rerank" and index.scanner.d % 16 == 0 and index.scanner.d > dc + dp
    assert index.query_scale is not None and float(index.query_scale.min()) < 1.0
    rng = np.random.default_rng(3)
    for w in (0.2, 0.5, 0.9):  # the certified bound holds for every row: |scan score - exact score| <= bound
        q = combined_query(color[:1], pattern[:1], w)[0]
        qc = index.code_query(q)
        approx, labels = index.scanner.search(qc, n)
        error = np.abs(approx[0] - rows[labels[0]].astype(np.float64) @ q.astype(np.float64))
        assert float(error.max()) <= float(np.linalg.norm(qc)) * index.residual + FLOAT_SLACK
    for trial in range(24):
        i = int(rng.integers(n))
        weight = float(rng.choice([0.0, 0.2, 0.5, 0.9, 1.0]))
        q = combined_query(color[i : i + 1], pattern[i : i + 1], weight)[0]
        k = int(rng.choice([1, 20, 100, 300]))
        allowed = None if trial % 2 else rng.random(n) < rng.choice([0.01, 0.3, 0.9])
        hits = index.search(q, k, allowed)
        truth, truth_scores = brute_force(rows, q, k, allowed)
        assert hits.exact
        assert_same_ranking(hits.rows, truth, truth_scores, rows.astype(np.float64) @ q.astype(np.float64))


def test_uncertifiable_bound_falls_back_to_an_exact_scan(published) -> None:
    root, fv, rows = published
    index = build_index(fv, root / "indexes", exact_max_rows=100_000)
    index.residual = 5.0  # no candidate set can be certified: the fp32 scan must answer
    q = rows[17]
    allowed = np.random.default_rng(1).random(len(rows)) < 0.3
    hits = index.search(q, 50, allowed)
    truth, truth_scores = brute_force(rows, q, 50, allowed)
    assert_same_ranking(hits.rows, truth, truth_scores, rows.astype(np.float64) @ q.astype(np.float64))


def test_small_versions_use_a_flat_index(tmp_path: Path) -> None:
    rows = textile_rows(300, 64, np.arange(300) // 3)
    fv = FeatureStore(tmp_path / "f").publish("color", "v1", rows, np.arange(300), {})
    index = build_index(fv, tmp_path / "indexes", exact_max_rows=100_000)
    assert index.info["kind"] == "flat"
    truth, _ = brute_force(rows, rows[5], 20, None)
    assert list(index.search(rows[5], 20).rows) == list(truth)
    assert len(index.search(rows[5], 20, np.zeros(300, bool)).rows) == 0


def test_hnsw_above_the_threshold_records_recall_and_reuses_its_graph(published) -> None:
    root, fv, rows = published
    index = build_index(fv, root / "hnsw-indexes", exact_max_rows=2000)
    assert index.info["kind"] == "hnsw+int8" and index.info["hnsw"]["reused"] is False
    folder = root / "hnsw-indexes" / "pattern" / "v1" / fv.path.name
    info = json.loads((folder / "info.json").read_text())
    assert info["recall_at_k"]["recall"] >= 0.9 and info["recall_at_k"]["k"] == 100
    assert (folder / "hnsw.faiss").is_file()
    # a filter keeping fewer rows than the threshold is answered exactly, inside the search
    allowed = np.zeros(len(rows), bool)
    allowed[::7] = True
    hits = index.search(rows[3], 30, allowed)
    truth, truth_scores = brute_force(rows, rows[3], 30, allowed)
    assert hits.exact
    assert_same_ranking(hits.rows, truth, truth_scores, rows.astype(np.float64) @ rows[3].astype(np.float64))
    # unfiltered: approximate, yet the nearest rows are found
    top = index.search(rows[3], 10)
    assert not top.exact and top.rows[0] == 3
    again = build_index(fv, root / "hnsw-indexes", exact_max_rows=2000)
    assert again.info["hnsw"]["reused"] is True


def test_cache_shares_an_index_and_swaps_it_when_a_snapshot_is_published(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "image_features")
    first = textile_rows(200, 32, np.arange(200) // 4, seed=1)
    store.publish("pattern", "v1", first, np.arange(1, 201), {})
    cache = IndexCache(tmp_path / "image_features", tmp_path / "indexes", exact_max_rows=100_000)
    a = cache.get("pattern", "v1")
    assert cache.get("pattern", "v1") is a
    second = textile_rows(150, 32, np.arange(150) // 4, seed=2)
    store.publish("pattern", "v1", second, np.arange(1000, 1150), {})
    b = cache.get("pattern", "v1")
    assert b is not a and b.folder != a.folder
    assert b.index.ntotal == 150 and b.row_of(1000) == 0 and b.row_of(1) is None
    np.testing.assert_array_equal(np.asarray(b.index.rows), second)
    folders = {p.name for p in (tmp_path / "indexes" / "pattern" / "v1").iterdir()}
    assert b.folder in folders


def test_gpu_copy_is_used_when_present_and_skipped_cleanly_without(published) -> None:
    import faiss

    root, fv, rows = published
    index = build_index(fv, root / "gpu-indexes", exact_max_rows=100_000, use_gpu=True)
    assert index.info["device"] == ("gpu" if faiss.get_num_gpus() > 0 else "cpu")
    hits = index.search(rows[9], 25)
    truth, truth_scores = brute_force(rows, rows[9], 25, None)
    assert_same_ranking(hits.rows, truth, truth_scores, rows.astype(np.float64) @ rows[9].astype(np.float64))


def test_threads_keep_searching_while_a_snapshot_is_swapped(tmp_path: Path) -> None:
    import threading

    store = FeatureStore(tmp_path / "image_features")
    versions = [textile_rows(400, 48, np.arange(400) // 4, seed=s) for s in (1, 2, 3)]
    store.publish("pattern", "v1", versions[0], np.arange(400), {})
    cache = IndexCache(tmp_path / "image_features", tmp_path / "indexes", exact_max_rows=100_000)
    cache.get("pattern", "v1")
    tops = {int(np.argsort(-(rows @ rows[0]), kind="stable")[1]) for rows in versions}
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher() -> None:
        try:
            while not stop.is_set():
                loaded = cache.get("pattern", "v1")
                hits = loaded.index.search(np.asarray(loaded.index.rows[0]), 2)
                assert hits.rows[0] == 0 and int(hits.rows[1]) in tops
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(4)]
    for t in threads:
        t.start()
    for rows in versions[1:]:
        store.publish("pattern", "v1", rows, np.arange(400), {})
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    final = cache.get("pattern", "v1")
    np.testing.assert_array_equal(np.asarray(final.index.rows), versions[-1])
