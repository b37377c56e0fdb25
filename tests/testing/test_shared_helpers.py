"""swatch.testing: the brute-force truth and the ties-allowed ranking check, synthetic rows and images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from swatch.catalog.db import Catalog
from swatch.config import Settings
from swatch.features.store import FeatureStore
from swatch.testing.checks import assert_same_ranking, brute_force, ranked
from swatch.testing.synthetic import add_synthetic_version, blobs, textile_rows


def test_ranked_breaks_ties_by_position_and_brute_force_keeps_allowed_rows() -> None:
    scores = np.array([0.5, 0.9, 0.5, 0.1, 0.9])
    assert ranked(scores, np.arange(5)).tolist() == [1, 4, 0, 2, 3]
    rows = np.eye(4, dtype=np.float32)
    order, top = brute_force(rows, np.array([0.1, 0.4, 0.3, 0.2], np.float32), 2, np.array([1, 0, 1, 1], bool))
    assert order.tolist() == [2, 3] and np.allclose(top, [0.3, 0.2])


def test_same_ranking_allows_swapped_ties_only() -> None:
    scores = np.array([0.9, 0.7, 0.7, 0.2])
    truth = np.array([0, 1, 2, 3])
    assert_same_ranking([0, 2, 1, 3], truth, scores[truth], scores)
    with pytest.raises(AssertionError):
        assert_same_ranking([1, 0, 2, 3], truth, scores[truth], scores)
    with pytest.raises(AssertionError):
        assert_same_ranking([0, 1, 2], truth, scores[truth], scores)


def test_synthetic_rows_are_seeded_unit_rows() -> None:
    designs = np.arange(60) // 6
    a, b = textile_rows(60, 32, designs, seed=3), textile_rows(60, 32, designs, seed=3)
    assert np.array_equal(a, b) and a.dtype == np.float32 and np.allclose(np.linalg.norm(a, axis=1), 1.0)
    x, labels = blobs(50, 8, centres=3, seed=1)
    assert x.shape == (50, 8) and set(labels.tolist()) <= {0, 1, 2}


def test_add_synthetic_version_writes_images_metadata_and_a_feature_version(tmp_path: Path) -> None:
    settings = Settings.from_env(data_dir=tmp_path / "data")
    x, _ = blobs(6, 8, centres=2, seed=0)
    ids = add_synthetic_version(settings, x, designs=[f"KM{k}" for k in range(6)])
    more = add_synthetic_version(settings, x[:2], model="other")
    assert ids == list(range(ids[0], ids[0] + 6)) and more == [ids[-1] + 1, ids[-1] + 2]
    catalog = Catalog(settings.db_path)
    assert catalog.count_images() == 8
    rows = catalog.connect().execute("SELECT image_id, design FROM metadata ORDER BY image_id").fetchall()
    assert [tuple(r) for r in rows] == [(i, f"KM{k}") for k, i in enumerate(ids)]
    fv = FeatureStore(settings.features_dir).load("synthetic", "v1")
    assert fv.ids.tolist() == ids and np.allclose(np.linalg.norm(fv.features, axis=1), 1.0)
