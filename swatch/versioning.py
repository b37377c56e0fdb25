"""The one way to publish an immutable version: allocate vN, write aside, fsync, rename atomically, info.json."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from swatch.fsutil import fsync_dir

#: an allocated version name: v1, v2, ... (an explicit name may be any plain folder name, a feature snapshot's say)
VERSION_RE = re.compile(r"^v[1-9][0-9]{0,5}$")
INFO_FILE = "info.json"
TMP_PREFIX = ".tmp-"
SNAP_PREFIX = ".snap-"
LOCK_FILE = ".publish.lock"
_NAME_RE = re.compile(r"^[A-Za-z0-9._+-]{1,200}$")


class VersioningError(RuntimeError):
    """A version cannot be published or read: a bad name, a taken name, a missing or unreadable info.json."""


def version_number(version: str) -> int:
    """N of "vN"; raises VersioningError for anything else."""
    if not VERSION_RE.match(version):
        raise VersioningError(f"invalid version {version!r}: versions are v1, v2, ...")
    return int(version[1:])


def existing_versions(root: Path) -> list[str]:
    """The vN names present in `root` (folders or links, complete or not), sorted by N."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [p.name for p in root.iterdir() if VERSION_RE.match(p.name) and (p.is_dir() or p.is_symlink())]
    return sorted(found, key=version_number)


def next_version(root: Path) -> str:
    """The first unused "vN" in `root` (one more than the highest there); allocate under `lock(root)`."""
    nums = [version_number(v) for v in existing_versions(root)]
    return f"v{max(nums, default=0) + 1}"


@contextmanager
def lock(root: Path) -> Iterator[None]:
    """An exclusive flock on `root/.publish.lock` (threads and processes; released even on SIGKILL)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_FILE, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def fsync_tree(folder: Path) -> None:
    """fsync every file under `folder`, then every folder, deepest first."""
    dirs: list[Path] = []
    for current, subdirs, files in os.walk(folder):
        here = Path(current)
        dirs.append(here)
        for name in files:
            fd = os.open(here / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        subdirs.sort()
    for d in reversed(dirs):
        fsync_dir(d)


def write_info(folder: Path, info: dict[str, Any]) -> None:
    """`folder/info.json` (indented, sorted keys), fsynced; the folder entry is made durable by the caller."""
    with open(folder / INFO_FILE, "wb") as fh:
        fh.write(json.dumps(info, indent=1, sort_keys=True).encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())


def _check_name(version: str) -> None:
    if not _NAME_RE.match(version) or version in (".", "..", LOCK_FILE, INFO_FILE) or version.startswith(TMP_PREFIX):
        raise VersioningError(f"invalid version name {version!r}")


def _open_draft(root: Path, version: str | None) -> tuple[Path, int]:
    """A new `.tmp-*` folder in `root`, held by an flock on its own descriptor so `heal` leaves it alone."""
    with lock(root):
        tmp = root / f"{TMP_PREFIX}{version or 'new'}-{uuid.uuid4().hex[:10]}"
        tmp.mkdir()
        fd = os.open(tmp, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)
    return tmp, fd


def _place(root: Path, tmp: Path, version: str, replace: bool, placed: Callable[[Path], None] | None = None) -> None:
    """Rename `tmp` to `root/version` (or, with `replace`, to a `.snap-*` that the link `root/version` points at,
    once `placed(snapshot folder)` has run)."""
    dest = root / version
    if not replace:
        if dest.exists() or dest.is_symlink():
            raise VersioningError(f"{dest} already exists")
        os.rename(tmp, dest)
        return
    if dest.exists() and not dest.is_symlink():
        raise VersioningError(f"{dest} is a plain folder; move it away before publishing")
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%S%fZ")  # sortable as text, as the earlier layout named them
    snap = f"{SNAP_PREFIX}{version}-{stamp}-{uuid.uuid4().hex[:6]}"
    os.rename(tmp, root / snap)
    if placed is not None:
        placed(root / snap)
    link_tmp = root / f"{TMP_PREFIX}link-{uuid.uuid4().hex[:8]}"
    os.symlink(snap, link_tmp)
    os.replace(link_tmp, dest)


@contextmanager
def publish(
    root: Path, info: dict[str, Any], version: str | None = None, *, replace: bool = False,
    sealed: Callable[[Path], None] | None = None, placed: Callable[[Path], None] | None = None,
) -> Iterator[Path]:
    """Yield a temporary folder inside `root`; on a clean exit publish it as `root/<version>`.

    The caller writes its files into the folder (and may still fill `info`). On exit: info.json is written from
    `info`, every file and folder is fsynced, and the folder is renamed atomically to `root/<version>`; with
    `version` None the next vN is allocated under the root's lock and recorded as `info["version"]`. With
    `replace`, `root/<version>` is a link switched atomically to the new `.snap-*` folder (readers see the old
    or the new, never a mix). `sealed(tmp)`, when given, runs once the folder is complete and durable, just before
    the rename (a crash test's fault point). `placed(snapshot)`, with `replace`, runs on the renamed `.snap-*`
    folder before the link switches to it: what must exist before readers see the version (its saved index). On
    an error the temporary folder is removed and nothing is published.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if version is not None:
        _check_name(version)
        if not replace and (root / version).exists():
            raise VersioningError(f"{root / version} already exists")
    tmp, fd = _open_draft(root, version)
    try:
        yield tmp
        with lock(root):
            chosen = version if version is not None else next_version(root)
            if version is None:
                info["version"] = chosen
            write_info(tmp, info)
            fsync_tree(tmp)
            if sealed is not None:
                sealed(tmp)
            _place(root, tmp, chosen, replace, placed)
            fsync_dir(root)
    finally:
        os.close(fd)
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def heal(root: Path) -> list[Path]:
    """Remove the `.tmp-*` leftovers of publishers that died (a live publisher's folder is left alone)."""
    root = Path(root)
    if not root.is_dir() or not any(root.glob(f"{TMP_PREFIX}*")):
        return []  # nothing to do, and nothing written (a read-only data folder stays quiet)
    removed: list[Path] = []
    with lock(root):
        for path in sorted(root.glob(f"{TMP_PREFIX}*")):
            if path.is_symlink() or path.is_file():
                path.unlink(missing_ok=True)
                removed.append(path)
            elif path.is_dir() and not _held(path):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def _held(folder: Path) -> bool:
    """Whether a live publisher holds `folder`'s flock."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def read_info(path: Path) -> dict[str, Any]:
    """The info.json of a version folder (or the info.json file itself); VersioningError when absent or bad."""
    path = Path(path)
    file = path / INFO_FILE if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VersioningError(f"{file} is unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise VersioningError(f"{file} does not hold a JSON object")
    return data
