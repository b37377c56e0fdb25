"""The training commit, all or nothing: files written aside and renamed into place, then one registering transaction.

Order (each step durable before the next): `models/<model>/.tmp-*` holds head.npz and info.json, fsynced, renamed
to `models/<model>/vN`; the feature versions `<model>/vN` and `color+pattern/vN` are published (each an atomic
rename); one catalogue transaction registers both (and activates them). Registration is the commit point: until
it, nothing is registered, and `heal` (run under the same lock at app start and before every commit) moves an
unregistered model folder aside to `.orphan-vN-<time>` and retracts unregistered derived feature versions. A
registered version with a part missing is reported, never touched.

Fault injection for tests: with SWATCH_FAULT_POINT set to one of FAULT_POINTS, the process SIGKILLs itself there.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from swatch import versioning
from swatch.catalog.db import Catalog, now_iso
from swatch.config import Settings
from swatch.features.store import VERSION_RE, FeatureStore
from swatch.features.versions import (
    BASE_MODELS,
    COMBINED,
    combined_entry,
    publish_combined_rows,
    publish_derived,
)
from swatch.fsutil import fsync_dir
from swatch.training.head import HEAD_FILE, HEAD_KIND, save_weights

FAULT_ENV = "SWATCH_FAULT_POINT"
#: where a test may have the commit SIGKILL its own process, in commit order
FAULT_POINTS = ("model-written", "model-renamed", "features-published", "combined-published", "registered")

log = logging.getLogger(__name__)


def fault_point(name: str) -> None:
    """SIGKILL this process here when SWATCH_FAULT_POINT names this point (crash tests only)."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class HealReport:
    """What a heal found: leftovers removed or moved aside, and registered versions with a part missing."""

    removed: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)


@contextmanager
def commit_lock(settings: Settings, model: str, wait: bool = True) -> Iterator[bool]:
    """An exclusive flock on models/<model>/.commit.lock (threads and processes; released even on SIGKILL).

    Yields False, holding nothing, when `wait` is False and another commit holds it."""
    folder = settings.models_dir / model
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".commit.lock", "a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def heal(settings: Settings, catalog: Catalog, model: str = "pattern") -> HealReport | None:
    """Clean up after commits that died, unless a live one is under way (then None: it heals before it writes)."""
    if not (settings.models_dir / model).is_dir():
        return HealReport()  # nothing was ever trained here
    try:
        with commit_lock(settings, model, wait=False) as held:
            return _heal_locked(settings, catalog, FeatureStore(settings.features_dir), model) if held else None
    except OSError:  # a read-only data folder, say: serving goes on, the next commit heals
        log.exception("could not check models/%s for a training commit that died", model)
        return None


def _heal_locked(settings: Settings, catalog: Catalog, store: FeatureStore, model: str) -> HealReport:
    report = HealReport()
    registered = {v["version"]: v for v in catalog.model_versions(model)}
    combined = {v["version"] for v in catalog.model_versions(COMBINED)}
    folder = settings.models_dir / model
    stamp = now_iso().replace(":", "").replace(".", "")
    moved = False
    report.removed += [f"models/{model}/{path.name}" for path in versioning.heal(folder)]
    for path in sorted(folder.iterdir()):
        if VERSION_RE.match(path.name) and path.name not in registered:
            aside = f".orphan-{path.name}-{stamp}"
            os.rename(path, folder / aside)
            moved = True
            report.removed.append(f"models/{model}/{path.name} (moved aside to {aside})")
    if moved:
        fsync_dir(folder)
    base = {"v1"} if model in BASE_MODELS else set()
    for version in store.versions(model):
        if version not in registered and version not in base and store.retract(model, version):
            report.removed.append(f"image_features/{model}/{version}")
    for version in store.versions(COMBINED):
        if version not in combined and version not in registered and version not in base \
                and store.retract(COMBINED, version):
            report.removed.append(f"image_features/{COMBINED}/{version}")
    for version, entry in registered.items():
        missing = [] if store.exists(model, version) else [f"image_features/{model}/{version}"]
        if entry["info"].get("kind") == HEAD_KIND:
            missing += [f"models/{model}/{version}/{name}" for name in (HEAD_FILE, "info.json")
                        if not (folder / version / name).is_file()]
        if missing:
            report.incomplete.append(f"{model}/{version} is registered but lacks {', '.join(missing)}")
    for version in sorted(combined):
        if not store.exists(COMBINED, version):
            lacking = f"image_features/{COMBINED}/{version}"
            report.incomplete.append(f"{COMBINED}/{version} is registered but lacks {lacking}")
    for line in report.removed:
        log.warning("training commit that died: removed %s", line)
    for line in report.incomplete:
        log.warning("incomplete version: %s", line)
    return report


def next_version(settings: Settings, store: FeatureStore, catalog: Catalog, model: str) -> str:
    """One more than any version number the catalogue, the feature store or models/<model>/ has used (v2 at least)."""
    used = [v["version"] for v in catalog.model_versions(model)] + store.versions(model)
    used += versioning.existing_versions(settings.models_dir / model)
    return f"v{1 + max([int(v[1:]) for v in used] + [1])}"


def _write_model_dir(folder: Path, version: str, weights: dict[str, np.ndarray],
                     info_for: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """models/<model>/vN/ published (swatch.versioning): head.npz, then info.json = `info_for(its sha256)`;
    returns the info."""
    if (folder / version).exists():
        raise RuntimeError(f"models/{folder.name}/{version} already exists")
    info: dict[str, Any] = {}
    with versioning.publish(folder, info, version, sealed=lambda _: fault_point("model-written")) as tmp:
        info.update(info_for(save_weights(tmp / HEAD_FILE, weights)))
    return info


def commit_version(settings: Settings, catalog: Catalog, store: FeatureStore, model: str,
                   weights: dict[str, np.ndarray], info: dict[str, Any], activate: bool, started: float,
                   say: Callable[[float, str], None]) -> dict[str, Any]:
    """Publish a trained head as the next version of `model` (and its color+pattern twin); returns its full info."""
    say(0.95, "writing the new version")
    with commit_lock(settings, model):
        _heal_locked(settings, catalog, store, model)
        version = next_version(settings, store, catalog, model)
        folder = settings.models_dir / model
        n_layers = len(weights) // 2

        def info_for(sha: str) -> dict[str, Any]:
            weights_info = {"file": str((folder / version / HEAD_FILE).resolve()),
                            "relative": f"models/{model}/{version}/{HEAD_FILE}", "sha256": sha, "layers": n_layers,
                            "dim": int(weights[f"w{n_layers - 1}"].shape[1])}
            seconds = dict(info.get("seconds", {}), total=round(time.perf_counter() - started, 2))
            return dict(info, version=version, weights=weights_info, seconds=seconds)

        try:
            full = _write_model_dir(folder, version, weights, info_for)
            fault_point("model-renamed")
            feature_info = {k: full[k] for k in ("kind", "extractor", "base_version", "base", "weights", "created")}
            publish_derived(store, model, version, feature_info)
            fault_point("features-published")
            summary = {k: full[k] for k in ("kind", "extractor", "base_version", "weights", "epochs", "created",
                                             "decision")}
            summary["metrics"] = {"heldout": full["metrics"]["heldout"]}
            entries = [(model, version, summary, activate)]
            if store.exists("color", "v1"):
                entries.append((COMBINED, version, combined_entry(publish_combined_rows(store, version)), activate))
            fault_point("combined-published")
            catalog.register_model_versions(entries)
        except BaseException:
            _heal_locked(settings, catalog, store, model)  # nothing was registered: take back what was written
            raise
        fault_point("registered")
    say(1.0, f"{model}/{version} ready" + (" and active" if activate else ""))
    return full
