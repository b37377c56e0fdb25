"""swatch.versioning: allocation under concurrency, info.json, atomic rename, cleanup and healing."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from swatch import versioning
from swatch.versioning import VersioningError, existing_versions, heal, next_version, publish, read_info


def _publish_many(root: str, count: int, tag: str) -> None:
    for i in range(count):
        info: dict = {"writer": tag, "i": i}
        with publish(Path(root), info) as tmp:
            (tmp / "data.txt").write_text(f"{tag}-{i}")


def test_next_version_and_existing_sorted_by_number(tmp_path: Path) -> None:
    assert next_version(tmp_path) == "v1"
    assert existing_versions(tmp_path / "missing") == []
    for name in ("v1", "v10", "v2", ".tmp-x", "notes"):
        (tmp_path / name).mkdir()
    assert existing_versions(tmp_path) == ["v1", "v2", "v10"]
    assert next_version(tmp_path) == "v11"
    assert isinstance(next_version(tmp_path), str)


def test_publish_writes_info_and_renames(tmp_path: Path) -> None:
    info: dict = {"k": 3}
    with publish(tmp_path, info) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".tmp-")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "a.bin").write_bytes(b"abc")
        info["late"] = True  # filled in after the files are written
        assert not (tmp_path / "v1").exists()  # nothing is visible before the clean exit
    assert info["version"] == "v1"
    assert not tmp.exists()
    assert (tmp_path / "v1" / "sub" / "a.bin").read_bytes() == b"abc"
    assert read_info(tmp_path / "v1") == {"k": 3, "late": True, "version": "v1"}
    assert read_info(tmp_path / "v1" / "info.json")["k"] == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


def test_explicit_version_and_taken_name(tmp_path: Path) -> None:
    with publish(tmp_path, {"version": "v7", "x": 1}, version="v7"):
        pass
    assert json.loads((tmp_path / "v7" / "info.json").read_text())["x"] == 1
    with pytest.raises(VersioningError), publish(tmp_path, {}, version="v7"):
        pass
    with pytest.raises(VersioningError), publish(tmp_path, {}, version="../up"):
        pass
    assert next_version(tmp_path) == "v8"


def test_replace_switches_a_link(tmp_path: Path) -> None:
    for n in (1, 2):
        with publish(tmp_path, {"n": n}, version="v1", replace=True) as tmp:
            (tmp / "f").write_text(str(n))
    assert (tmp_path / "v1").is_symlink()
    assert (tmp_path / "v1" / "f").read_text() == "2"
    assert read_info(tmp_path / "v1")["n"] == 2
    assert len(list(tmp_path.glob(".snap-v1-*"))) == 2


def test_error_cleans_up(tmp_path: Path) -> None:
    info: dict = {}
    with pytest.raises(ZeroDivisionError), publish(tmp_path, info) as tmp:
        (tmp / "half").write_text("x")
        raise ZeroDivisionError
    assert not tmp.exists()
    assert existing_versions(tmp_path) == []
    assert "version" not in info


def test_heal_removes_leftovers_of_dead_writers_only(tmp_path: Path) -> None:
    pid = os.fork()
    if pid == 0:  # a writer killed mid-publish leaves its temporary folder
        try:
            with publish(tmp_path, {}) as tmp:
                (tmp / "partial").write_text("x")
                os.kill(os.getpid(), signal.SIGKILL)
        finally:
            os._exit(1)
    os.waitpid(pid, 0)
    (tmp_path / ".tmp-stray-file").write_text("x")
    leftovers = sorted(p.name for p in tmp_path.glob(".tmp-*"))
    assert len(leftovers) == 2
    with publish(tmp_path, {}) as live:
        removed = heal(tmp_path)
        assert live.exists()  # a live publisher's folder is not a leftover
    assert sorted(p.name for p in removed) == leftovers
    assert list(tmp_path.glob(".tmp-*")) == []
    assert existing_versions(tmp_path) == ["v1"]
    assert heal(tmp_path / "missing") == []


def test_read_info_errors(tmp_path: Path) -> None:
    with pytest.raises(VersioningError):
        read_info(tmp_path)
    (tmp_path / "info.json").write_text("[1]")
    with pytest.raises(VersioningError):
        read_info(tmp_path)


def test_allocation_under_concurrency_two_processes(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    count = 15
    procs = [ctx.Process(target=_publish_many, args=(str(tmp_path), count, tag)) for tag in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    versions = existing_versions(tmp_path)
    assert versions == [f"v{n}" for n in range(1, 2 * count + 1)]
    writers = [read_info(tmp_path / v) for v in versions]
    assert sorted((w["writer"], w["i"]) for w in writers) == sorted(
        (tag, i) for tag in ("a", "b") for i in range(count)
    )
    assert all(w["version"] == v for w, v in zip(writers, versions, strict=True))
    assert versioning.heal(tmp_path) == []
