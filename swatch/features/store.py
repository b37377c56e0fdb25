"""Versioned feature store: image_features/<model>/<version>/ published atomically with an info.json sidecar."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from swatch import versioning
from swatch.catalog.db import now_iso
from swatch.fsutil import fsync_dir

VERSION_RE = versioning.VERSION_RE
MODEL_RE = re.compile(r"^[a-z][a-z+_-]{0,40}$")
log = logging.getLogger(__name__)


class FeatureStoreError(RuntimeError):
    """A feature version is missing or inconsistent."""


@dataclass
class FeatureVersion:
    """One published feature version: rows (memory-mapped), catalogue ids in row order, and its info."""

    model: str
    version: str
    features: np.ndarray
    ids: np.ndarray
    info: dict[str, Any]
    path: Path

    def __len__(self) -> int:
        return int(self.ids.shape[0])


#: per features root (resolved): what this process runs on each new snapshot before its version becomes visible
_PREPARERS: dict[str, Callable[[FeatureVersion], object]] = {}


def register_preparer(root: Path, prepare: Callable[[FeatureVersion], object] | None) -> None:
    """Have every publish under `root` in this process run `prepare(new snapshot)` before the version's link
    switches to it (the search layer saves the snapshot's index there, so no server builds its own); None: stop."""
    key = str(Path(root).resolve())
    if prepare is None:
        _PREPARERS.pop(key, None)
    else:
        _PREPARERS[key] = prepare


def _prepared(prepare: Callable[[FeatureVersion], object], model: str, version: str) -> Callable[[Path], None]:
    """The `placed` step of a publish: `prepare` on the snapshot folder; a failure is logged, not fatal (the
    version is published anyway and servers index it themselves, as before)."""

    def placed(snap: Path) -> None:
        try:
            info = json.loads((snap / "info.json").read_text(encoding="utf-8"))
            ids = np.asarray(json.loads((snap / "ids.json").read_text(encoding="utf-8")), dtype=np.int64)
            feats = np.load(snap / "features.npy", mmap_mode="r")
            prepare(FeatureVersion(model, version, feats, ids, info, snap))
        except (OSError, ValueError, RuntimeError, MemoryError) as exc:
            log.warning("could not prepare the index of %s/%s before publishing it: %s", model, version, exc)

    return placed


def check_name(model: str, version: str) -> None:
    if not MODEL_RE.match(model):
        raise FeatureStoreError(f"invalid model name {model!r}")
    if not VERSION_RE.match(version):
        raise FeatureStoreError(f"invalid version {version!r}: versions are v1, v2, ...")


@contextmanager
def _publish_lock(folder: Path) -> Iterator[None]:
    """An exclusive flock on `<model>/.lock`: one publisher per model at a time, released even on SIGKILL."""
    with open(folder / ".lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class FeatureStore:
    """Reads and publishes feature versions under `root` (docs/architecture.md, "Where things live")."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def version_path(self, model: str, version: str) -> Path:
        check_name(model, version)
        return self.root / model / version

    def exists(self, model: str, version: str) -> bool:
        return (self.version_path(model, version) / "info.json").exists()

    def versions(self, model: str) -> list[str]:
        folder = self.root / model
        if not folder.is_dir():
            return []
        found = [p.name for p in folder.iterdir() if VERSION_RE.match(p.name) and (p / "info.json").exists()]
        return sorted(found, key=lambda v: int(v[1:]))

    def models(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and MODEL_RE.match(p.name))

    def load(self, model: str, version: str, mmap: bool = True) -> FeatureVersion:
        """Load a version; the link is resolved once so rows, ids and info all come from one snapshot.

        A snapshot pruned between resolving and reading (two publishes in between) is retried on the new one.
        """
        link = self.version_path(model, version)
        for attempt in range(3):
            if not link.exists():
                raise FeatureStoreError(f"no feature version {model}/{version}")
            snap = link.resolve()
            try:
                info = json.loads((snap / "info.json").read_text(encoding="utf-8"))
                ids = np.asarray(json.loads((snap / "ids.json").read_text(encoding="utf-8")), dtype=np.int64)
                feats = np.load(snap / "features.npy", mmap_mode="r" if mmap else None)
                break
            except (OSError, ValueError) as exc:
                if attempt < 2 and isinstance(exc, FileNotFoundError) and link.resolve() != snap:
                    continue
                raise FeatureStoreError(f"feature version {model}/{version} is unreadable: {exc}") from exc
        if feats.ndim != 2 or feats.shape[0] != ids.shape[0] or info.get("count") != int(ids.shape[0]):
            raise FeatureStoreError(
                f"feature version {model}/{version} is inconsistent: {feats.shape} rows vs {ids.shape[0]} ids"
            )
        return FeatureVersion(model, version, feats, ids, info, snap)

    def publish(
        self, model: str, version: str, features: np.ndarray, ids: list[int] | np.ndarray, info: dict[str, Any]
    ) -> FeatureVersion:
        """Write a complete snapshot, then switch `<model>/<version>` to it with one atomic rename.

        Readers see the old snapshot or the new one, never a mix; a crash leaves only a `.tmp-*` folder
        that the next publish removes.
        """
        check_name(model, version)
        features = np.ascontiguousarray(features, dtype=np.float32)
        ids_list = [int(i) for i in ids]
        if features.ndim != 2 or features.shape[0] != len(ids_list):
            raise FeatureStoreError(f"{features.shape[0]} rows but {len(ids_list)} ids")
        if len(set(ids_list)) != len(ids_list):
            raise FeatureStoreError("duplicate ids in a feature version")
        folder = self.root / model
        folder.mkdir(parents=True, exist_ok=True)
        with _publish_lock(folder):
            self._publish_locked(folder, version, features, ids_list, info)
        return self.load(model, version)

    def _publish_locked(
        self, folder: Path, version: str, features: np.ndarray, ids_list: list[int], info: dict[str, Any]
    ) -> None:
        """The body of publish, run holding the model's lock: any `.tmp-*` left here is from a dead writer."""
        target = folder / version
        if target.exists() and not target.is_symlink():
            raise FeatureStoreError(f"{target} is a plain folder; move it away before publishing")
        versioning.heal(folder)
        full_info = dict(info)
        full_info.update({
            "model": folder.name, "version": version, "count": len(ids_list), "dim": int(features.shape[1]),
            "dtype": "float32", "normalised": "l2", "created": now_iso(),
        })
        prepare = _PREPARERS.get(str(self.root.resolve()))
        placed = None if prepare is None else _prepared(prepare, folder.name, version)
        with versioning.publish(folder, full_info, version, replace=True, placed=placed) as tmp:
            with open(tmp / "features.npy", "wb") as fh:
                np.save(fh, features)
            (tmp / "ids.json").write_bytes(json.dumps(ids_list).encode())
        self._prune(folder, version)

    def retract(self, model: str, version: str) -> bool:
        """Remove a published version: its link (made durable), then its snapshots; False when there was none."""
        link = self.version_path(model, version)
        if not link.parent.is_dir():
            return False
        with _publish_lock(link.parent):
            found = link.is_symlink()
            if found:
                link.unlink()
                fsync_dir(link.parent)
            for snap in link.parent.glob(f".snap-{version}-*"):
                shutil.rmtree(snap, ignore_errors=True)
        return found

    @staticmethod
    def _prune(folder: Path, version: str, keep: int = 2) -> None:
        """Keep the current snapshot and the one before it (a reader may still hold it)."""
        current = os.readlink(folder / version)
        snaps = sorted(folder.glob(f".snap-{version}-*"), key=lambda p: p.name, reverse=True)
        kept = 0
        for snap in snaps:
            if snap.name == current or kept < keep:
                kept += 1
                continue
            shutil.rmtree(snap, ignore_errors=True)
