"""Tests for the versioned feature store: round trip, snapshot isolation, refusals, crash leftovers."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from swatch.features.base import l2_normalise
from swatch.features.store import FeatureStore, FeatureStoreError


def rows(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    return l2_normalise(np.random.default_rng(seed).normal(size=(n, dim)))


def test_publish_load_round_trip(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "image_features")
    feats, ids = rows(5), [40, 3, 17, 8, 1]
    fv = store.publish("pattern", "v1", feats, ids, {"extractor": "pattern", "params": {"size": 224}})
    again = store.load("pattern", "v1")
    for got in (fv, again):
        assert np.array_equal(np.asarray(got.features), feats) and got.features.dtype == np.float32
        assert got.ids.tolist() == ids  # row order kept
        assert got.info["count"] == 5 and got.info["dim"] == 8
        assert got.info["model"] == "pattern" and got.info["version"] == "v1"
        assert got.info["params"] == {"size": 224} and got.info["created"].endswith("Z")
    on_disk = tmp_path / "image_features" / "pattern" / "v1"
    assert sorted(p.name for p in on_disk.iterdir()) == ["features.npy", "ids.json", "info.json"]
    assert json.loads((on_disk / "ids.json").read_text()) == ids
    assert store.exists("pattern", "v1") and not store.exists("pattern", "v2")
    assert store.models() == ["pattern"] and store.versions("pattern") == ["v1"]
    with pytest.raises(ValueError, match="read-only"):
        again.features[0, 0] = 1.0  # memory-mapped read-only: nobody edits a published version


def test_empty_version_round_trips(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path)
    fv = store.publish("color", "v1", np.zeros((0, 405), np.float32), [], {})
    assert len(fv) == 0 and store.load("color", "v1").features.shape == (0, 405)


def test_reader_keeps_its_snapshot_across_publishes(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path)
    old = store.publish("color", "v1", rows(4, seed=1), [1, 2, 3, 4], {})
    held = store.load("color", "v1")
    before = np.array(held.features)
    for k in range(4):  # enough publishes that the held snapshot's folder is pruned
        store.publish("color", "v1", rows(6, seed=10 + k), [1, 2, 3, 4, 5, 6], {})
    assert not old.path.exists()  # pruned from disk ...
    assert np.array_equal(np.asarray(held.features), before)  # ... yet the reader still reads its rows
    assert held.ids.tolist() == [1, 2, 3, 4] and held.info["count"] == 4
    latest = store.load("color", "v1")
    assert latest.ids.tolist() == [1, 2, 3, 4, 5, 6]
    assert np.array_equal(np.asarray(latest.features), rows(6, seed=13))
    snapshots = [p for p in (tmp_path / "color").iterdir() if p.name.startswith(".snap-")]
    assert 1 <= len(snapshots) <= 3  # old snapshots do not pile up


def test_concurrent_readers_never_see_a_mix(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path)
    store.publish("color", "v1", np.full((3, 4), 0.5, np.float32), [1, 2, 3], {"round": 0})
    problems: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            fv = store.load("color", "v1")
            r = int(fv.info["round"])
            if len(fv) != 3 + r or not np.all(np.asarray(fv.features) == 0.5 + r):
                problems.append(f"round {r}: {len(fv)} rows")

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for r in range(1, 15):
        store.publish("color", "v1", np.full((3 + r, 4), 0.5 + r, np.float32), list(range(1, 4 + r)), {"round": r})
    stop.set()
    for t in threads:
        t.join()
    assert problems == []


def test_inconsistent_versions_are_refused(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path)
    snap = store.publish("pattern", "v1", rows(3), [1, 2, 3], {}).path
    (snap / "ids.json").write_text("[1, 2]")
    with pytest.raises(FeatureStoreError, match="inconsistent"):
        store.load("pattern", "v1")
    (snap / "ids.json").write_text("[1, 2, 3]")
    info = json.loads((snap / "info.json").read_text())
    (snap / "info.json").write_text(json.dumps({**info, "count": 4}))
    with pytest.raises(FeatureStoreError, match="inconsistent"):
        store.load("pattern", "v1")
    (snap / "info.json").write_text("{not json")
    with pytest.raises(FeatureStoreError, match="unreadable"):
        store.load("pattern", "v1")
    (snap / "info.json").write_text(json.dumps(info))
    (snap / "features.npy").unlink()
    with pytest.raises(FeatureStoreError, match="unreadable"):
        store.load("pattern", "v1")
    with pytest.raises(FeatureStoreError, match="no feature version pattern/v2"):
        store.load("pattern", "v2")


def test_publish_refuses_mismatched_rows_and_duplicate_ids(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path)
    with pytest.raises(FeatureStoreError, match="3 rows but 2 ids"):
        store.publish("color", "v1", rows(3), [1, 2], {})
    with pytest.raises(FeatureStoreError, match="duplicate ids"):
        store.publish("color", "v1", rows(3), [1, 2, 2], {})
    assert not store.exists("color", "v1")


@pytest.mark.parametrize(
    ("model", "version"),
    [("../etc", "v1"), ("Color", "v1"), ("", "v1"), ("a/b", "v1"), ("color", "v0"), ("color", "1"),
     ("color", "v1/../v2"), ("color", "latest"), ("color", ".tmp-v1"), ("color", "v01")],
)
def test_bad_names_are_refused(tmp_path: Path, model: str, version: str) -> None:
    store = FeatureStore(tmp_path / "features")
    with pytest.raises(FeatureStoreError, match="invalid"):
        store.publish(model, version, rows(1), [1], {})
    with pytest.raises(FeatureStoreError, match="invalid"):
        store.load(model, version)
    assert not (tmp_path / "features").exists() or not any((tmp_path / "features").rglob("*"))


def test_crash_leftovers_are_invisible_and_cleaned(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path)
    store.publish("pattern", "v1", rows(2), [1, 2], {})
    half = tmp_path / "pattern" / ".tmp-v2-deadbeef"  # what a publisher killed mid-write leaves
    half.mkdir()
    np.save(half / "features.npy", rows(5))
    assert store.versions("pattern") == ["v1"]
    assert not store.exists("pattern", "v2")
    store.publish("pattern", "v3", rows(2), [1, 2], {})
    assert not half.exists()
    assert store.versions("pattern") == ["v1", "v3"]


def test_versions_sort_by_number_and_plain_folder_is_not_replaced(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path)
    for v in ("v10", "v2", "v1"):
        store.publish("pattern", v, rows(1), [1], {})
    assert store.versions("pattern") == ["v1", "v2", "v10"]
    plain = tmp_path / "pattern" / "v4"
    plain.mkdir()
    (plain / "mine.txt").write_text("hand-made")
    with pytest.raises(FeatureStoreError, match="plain folder"):
        store.publish("pattern", "v4", rows(1), [1], {})
    assert (plain / "mine.txt").read_text() == "hand-made"
    assert not list((tmp_path / "pattern").glob(".tmp-*"))
