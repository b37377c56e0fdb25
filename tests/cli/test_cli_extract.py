"""extract_features.py on bad input: exit 2, one line `error: ...`, and nothing in the data dir changed."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from helpers import shared_conftest

from swatch.catalog.db import Catalog
from swatch.features.store import FeatureStore

ROOT = Path(__file__).resolve().parents[2]
make_image = shared_conftest().make_image


def run_cli(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "SWATCH_DATA_DIR": str(data_dir), **env}
    return subprocess.run([sys.executable, str(ROOT / "extract_features.py"), *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=180)


def tree(folder: Path) -> dict[str, str]:
    """Every file below folder with a hash of its bytes (symlinks by target)."""
    out: dict[str, str] = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def existing(tmp_path: Path) -> tuple[Path, Path]:
    """An image folder and a data dir that already holds a catalogue and a feature version."""
    images = tmp_path / "images"
    make_image(images / "AW22 - DUNDEE SUIT - KM11554-4.png", seed=1)
    data = tmp_path / "data"
    Catalog(data / "catalog.db").close()
    FeatureStore(data / "image_features").publish("color", "v1", np.eye(2, 4, dtype=np.float32), [1, 2], {})
    return images, data


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--images", "{tmp}/nowhere"], ["image folder not found", "nowhere"]),
        (["--images", "{images}", "--models", "color,texture"], ["unknown model texture", "color, pattern"]),
        (["--images", "{images}", "--models", ","], ["unknown model (none)"]),
        (["--images", "{images}", "--metadata", "{tmp}/missing.json"], ["metadata file not found"]),
        (["--images", "{images}", "--metadata", "{tmp}/broken.json"], ["broken.json"]),
        (["--images", "{images}", "--metadata", "{tmp}/bad_composition.json"], ["more than 100%"]),
        (["--images", "{images}", "--metadata", "{tmp}/bad.csv"], ["bad.csv", "file"]),
    ],
)
def test_bad_arguments_exit_2_and_change_nothing(
    tmp_path: Path, existing: tuple[Path, Path], args: list[str], words: list[str]
) -> None:
    images, data = existing
    (tmp_path / "broken.json").write_text('{"AW22 - DUNDEE SUIT - KM11554-4.png": {"design": ', encoding="utf-8")
    (tmp_path / "bad_composition.json").write_text(json.dumps(
        {"AW22 - DUNDEE SUIT - KM11554-4.png": {"features": [["WV", 60], ["PES", 60]]}}), encoding="utf-8")
    (tmp_path / "bad.csv").write_text("name;season\nx.jpg;AW22\n", encoding="utf-8")
    before = tree(tmp_path)
    proc = run_cli([a.format(tmp=tmp_path, images=images) for a in args], data)
    assert_one_line_error(proc, *words)
    assert tree(tmp_path) == before


def test_malformed_map_in_the_image_folder(tmp_path: Path, existing: tuple[Path, Path]) -> None:
    images, data = existing
    (images / "image_metadata_map.json").write_text("[1, 2, 3]", encoding="utf-8")
    before = tree(tmp_path)
    assert_one_line_error(run_cli(["--images", str(images)], data), "image_metadata_map.json", "top level")
    assert tree(tmp_path) == before


def test_fresh_data_dir_is_not_created_on_bad_input(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert_one_line_error(run_cli(["--images", str(tmp_path / "none")], data), "image folder not found")
    assert not data.exists()


def test_bad_settings_and_unusable_catalogues(tmp_path: Path, existing: tuple[Path, Path]) -> None:
    images, data = existing
    before = tree(tmp_path)
    assert_one_line_error(run_cli(["--images", str(images)], data, SWATCH_BATCH_SIZE="lots"),
                          "SWATCH_BATCH_SIZE: must be a positive integer, got 'lots'")
    assert tree(tmp_path) == before
    with closing(sqlite3.connect(data / "catalog.db")) as conn:
        conn.execute("PRAGMA user_version = 99")
    before = tree(tmp_path)
    assert_one_line_error(run_cli(["--images", str(images)], data), "schema version 99, newer than this Swatch")
    assert tree(tmp_path) == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "catalog.db").write_bytes(b"not a database at all" * 50)
    assert_one_line_error(run_cli(["--images", str(images)], other), "cannot open catalogue")


def test_json_summary(tmp_path: Path) -> None:
    images, data = tmp_path / "images", tmp_path / "data"
    make_image(images / "a.png", seed=1)
    make_image(images / "b.webp", seed=2)
    (images / "c.jpg").write_bytes(b"")
    proc = run_cli(["--images", str(images), "--models", "color", "--json", "--quiet"], data)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert (summary["added"], summary["unchanged"], summary["failed"]) == (2, 0, {"c.jpg": "empty file"})
    assert summary["versions"] == ["color/v1"]
    assert FeatureStore(data / "image_features").versions("pattern") == []
