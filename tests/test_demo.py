"""The procedural demo catalogue: deterministic, named like the house's files, colourways share geometry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from swatch.catalog.metadata import parse_filename
from swatch.demo import generate_demo_catalogue, main


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_arguments_give_identical_bytes(tmp_path):
    generate_demo_catalogue(tmp_path / "a", designs=6, colourways=2, size=64, seed=5, progress=False)
    generate_demo_catalogue(tmp_path / "b", designs=6, colourways=2, size=64, seed=5, progress=False)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    generate_demo_catalogue(tmp_path / "c", designs=6, colourways=2, size=64, seed=6, progress=False)
    assert _files(tmp_path / "a") != _files(tmp_path / "c")


def test_counts_names_and_metadata_schema(tmp_path):
    meta_path = generate_demo_catalogue(tmp_path, designs=12, colourways=3, size=96, seed=1, progress=False)
    meta = json.loads(meta_path.read_text())
    images = sorted(p for p in tmp_path.iterdir() if p.suffix == ".jpg")
    assert len(images) == 36 and set(meta) == {p.name for p in images}
    families = set()
    for name, rec in meta.items():
        with Image.open(tmp_path / name) as im:
            assert im.mode == "RGB" and im.size == (96, 96)
        assert rec["season"][:2] == "20" and rec["season"][-2:] in ("AW", "SS")
        assert sum(p for _, p in rec["features"]) == 100
        parsed = parse_filename(name)
        assert parsed is not None, name
        assert (parsed.design, parsed.season, parsed.colourway) == (rec["design"], rec["season"], rec["colourway"])
        families.add(rec["pattern_family"])
    assert len(families) >= 6  # stripes, checks, plaids, dots, herringbone, houndstooth, florals, paisleys...


def _edges(path: Path) -> np.ndarray:
    grey = cv2.cvtColor(np.asarray(Image.open(path).convert("RGB")), cv2.COLOR_RGB2GRAY).astype(np.float32)
    return np.abs(cv2.Laplacian(cv2.GaussianBlur(grey, (3, 3), 0), cv2.CV_32F)).ravel()


def test_colourways_share_geometry_but_not_colours(tmp_path):
    meta = json.loads(generate_demo_catalogue(tmp_path, designs=8, colourways=2, size=128, seed=2,
                                              progress=False).read_text())
    by_design: dict[str, list[str]] = {}
    for name, rec in meta.items():
        by_design.setdefault(rec["design"], []).append(name)
    same, other = [], []
    designs = sorted(by_design)
    for i, code in enumerate(designs):
        a, b = sorted(by_design[code])
        mean_a = np.asarray(Image.open(tmp_path / a)).reshape(-1, 3).mean(0)
        mean_b = np.asarray(Image.open(tmp_path / b)).reshape(-1, 3).mean(0)
        assert np.abs(mean_a - mean_b).max() > 8, f"colourways of {code} look the same colour"
        same.append(np.corrcoef(_edges(tmp_path / a), _edges(tmp_path / b))[0, 1])
        c = sorted(by_design[designs[(i + 1) % len(designs)]])[0]
        other.append(np.corrcoef(_edges(tmp_path / a), _edges(tmp_path / c))[0, 1])
    assert np.median(same) > 0.5
    assert np.median(same) > np.median(other) + 0.3


def test_cli_refuses_bad_arguments_and_writes_good_ones(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "x"), "--designs", "0"]) == 2
    assert "error" in capsys.readouterr().err
    assert not (tmp_path / "x" / "image_metadata_map.json").exists()
    assert main(["--out", str(tmp_path / "y"), "--designs", "notanumber"]) == 2
    done = subprocess.run(
        [sys.executable, "-m", "swatch.demo", "--out", str(tmp_path / "z"), "--designs", "2", "--colourways", "2",
         "--size", "48", "--no-progress"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 4 images" in done.stdout
    assert len(list((tmp_path / "z").glob("*.jpg"))) == 4
