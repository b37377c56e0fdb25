"""A training commit SIGKILLed at each of its steps (a real train_model.py process) heals at the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import rate_like_a_designer, tree_digest

from swatch.catalog.db import Catalog
from swatch.config import Settings
from swatch.features.store import FeatureStore
from swatch.features.versions import COMBINED
from swatch.training.commit import FAULT_ENV, FAULT_POINTS, heal
from swatch.training.service import TrainParams, train_pattern_version

ROOT = Path(__file__).resolve().parent.parent.parent
FAST = {"epochs": 2, "augment": 0, "min_ratings": 10}


def registered(settings: Settings, model: str) -> dict[str, bool]:
    return {v["version"]: v["active"] for v in Catalog(settings.db_path).model_versions(model)}


def snapshot(settings: Settings) -> dict[str, str]:
    """Digests of every published version's files (v1 of each model, the trained v2 and its models/ folder)."""
    store = FeatureStore(settings.features_dir)
    out = {f"{m}/{v}": tree_digest(store.version_path(m, v)) for m in ("color", "pattern", COMBINED)
           for v in store.versions(m)}
    out["models/pattern/v2"] = tree_digest(settings.models_dir / "pattern" / "v2")
    return out


def crash_training(settings: Settings, point: str) -> None:
    """train_model.py in its own process, SIGKILLed by itself at `point` of the commit."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train_model.py"), "--data-dir", str(settings.data_dir), "--epochs", "2",
         "--augment", "0", "--min-ratings", "10", "--activate", "yes", "--quiet"],
        cwd=ROOT, env={**os.environ, FAULT_ENV: point}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-2000:])


def what_the_crash_left(settings: Settings, point: str) -> None:
    """The kill happened where it says: each step's output is there, nothing after it is registered."""
    store = FeatureStore(settings.features_dir)
    folder = settings.models_dir / "pattern"
    assert bool(list(folder.glob(".tmp-v3-*"))) == (point == "model-written")
    assert (folder / "v3").is_dir() == (point != "model-written")
    assert store.exists("pattern", "v3") == (FAULT_POINTS.index(point) >= FAULT_POINTS.index("features-published"))
    assert store.exists(COMBINED, "v3") == (FAULT_POINTS.index(point) >= FAULT_POINTS.index("combined-published"))
    assert ("v3" in registered(settings, "pattern")) == (point == "registered")


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_a_commit_killed_at_any_step_heals_at_the_next_start(settings: Settings, point: str) -> None:
    rate_like_a_designer(settings, queries=12)
    assert train_pattern_version(settings, TrainParams(**FAST, activate="no"))["version"] == "v2"
    before = snapshot(settings)
    versions_before = {m: registered(settings, m) for m in ("pattern", COMBINED)}

    crash_training(settings, point)
    what_the_crash_left(settings, point)

    from swatch.web import create_app

    client = create_app({"TESTING": True, "SETTINGS": settings}).test_client()  # a fresh start heals
    store = FeatureStore(settings.features_dir)
    folder = settings.models_dir / "pattern"
    assert not list(folder.glob(".tmp-*"))
    query = Catalog(settings.db_path).live_images()[0].path
    v3 = client.get(f"/find-similar?filename={query}&model=pattern&version=v3&topN=5")
    if point == "registered":  # the commit was complete: v3 is whole, registered, active, searchable
        assert registered(settings, "pattern") == {"v1": False, "v2": False, "v3": True}
        assert registered(settings, COMBINED) == {"v1": False, "v2": False, "v3": True}
        assert (folder / "v3" / "head.npz").is_file() and store.exists(COMBINED, "v3")
        assert v3.status_code == 200 and len(v3.get_json()) == 5
        expected_next = "v4"
    else:  # nothing of v3 is left where it could be used, and nothing is registered
        assert {m: registered(settings, m) for m in ("pattern", COMBINED)} == versions_before
        assert store.versions("pattern") == ["v1", "v2"] and store.versions(COMBINED) == ["v1", "v2"]
        assert not (folder / "v3").exists() and not list(settings.features_dir.glob("*/.snap-v3-*"))
        assert bool(list(folder.glob(".orphan-v3-*"))) == (point != "model-written")  # weights kept aside
        assert v3.status_code in (400, 404)
        expected_next = "v3"
    after = snapshot(settings)
    assert {k: after[k] for k in before} == before  # older versions byte-identical
    assert client.get(f"/find-similar?filename={query}&model=pattern&version=v2&topN=5").status_code == 200

    info = train_pattern_version(settings, TrainParams(**FAST, activate="no"))  # and training works again
    assert info["version"] == expected_next
    assert expected_next in registered(settings, "pattern") and expected_next in registered(settings, COMBINED)
    assert store.exists("pattern", expected_next) and (folder / expected_next / "info.json").is_file()


def test_a_registered_version_with_a_part_missing_is_reported_and_kept(settings: Settings) -> None:
    rate_like_a_designer(settings, queries=12)
    train_pattern_version(settings, TrainParams(**FAST, activate="no"))
    (settings.models_dir / "pattern" / "v2" / "head.npz").unlink()
    report = heal(settings, Catalog(settings.db_path))
    assert report is not None and report.removed == []
    assert report.incomplete == ["pattern/v2 is registered but lacks models/pattern/v2/head.npz"]
    assert "v2" in registered(settings, "pattern") and FeatureStore(settings.features_dir).exists("pattern", "v2")
