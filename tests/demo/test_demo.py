"""Tests for the procedural demo catalogue generator (swatch.demo)."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from swatch import demo
from swatch.cli import main as swatch_main

REPO_ROOT = Path(__file__).resolve().parents[2]
SMALL = {"designs": 12, "colourways": 3, "size": 96, "seed": 7}
CLEAN_NAME = re.compile(r"^(AW|SS)\d\d - [A-Z]+(?: [A-Z]+)* - KM\d{5}-\d+\.jpg$")
ANY_NAME = re.compile(r"^(?P<season>.+?)\s+-\s+(?P<quality>.+?)\s+-\s+(?P<design>KM\d{5})-(?P<cw>\d+)\.jpg$")


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict]]:
    out = tmp_path_factory.mktemp("demo")
    meta_path = demo.generate_demo_catalogue(out, progress=False, **SMALL)
    return meta_path, json.loads(meta_path.read_text(encoding="utf-8"))


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float64)


def _affine_fit(a: np.ndarray, b: np.ndarray) -> float:
    """R^2 of predicting image b's colours from an affine function of image a's colours, pixel by pixel.

    Same geometry in different colours is (up to texture and JPEG noise) such an affine map; unrelated
    geometry is not.
    """
    x = np.c_[a.reshape(-1, 3), np.ones(a.shape[0] * a.shape[1])]
    y = b.reshape(-1, 3)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = ((y - x @ coef) ** 2).sum()
    total = ((y - y.mean(axis=0)) ** 2).sum()
    return float(1.0 - residual / total)


def _season_from_name(token: str) -> str:
    letters = re.sub(r"[^A-Z]", "", token.upper())
    digits = re.sub(r"\D", "", token)
    return f"20{digits}-{letters}"


def test_counts_files_and_metadata_schema(catalogue: tuple[Path, dict[str, dict]]) -> None:
    meta_path, meta = catalogue
    assert meta_path.name == "image_metadata_map.json"
    out = meta_path.parent
    jpgs = {p.name for p in out.iterdir() if p.suffix == ".jpg"}
    assert len(meta) == SMALL["designs"] * SMALL["colourways"]
    assert jpgs == set(meta)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]  # atomic writes leave no temp files
    text = meta_path.read_text(encoding="utf-8")
    assert text.strip() == json.dumps(meta, sort_keys=True, indent=1)

    keys = {"design", "season", "quality", "features", "colourway", "pattern_family", "palette"}
    for name, entry in meta.items():
        assert set(entry) == keys, name
        assert re.fullmatch(r"KM\d{5}", entry["design"])
        assert re.fullmatch(r"20(22|23|24)-(AW|SS)", entry["season"])
        assert entry["quality"] == entry["quality"].title()
        assert entry["quality"].upper() in demo.QUALITIES
        assert entry["colourway"] in {str(c) for c in range(1, SMALL["colourways"] + 1)}
        assert entry["pattern_family"] in demo.FAMILIES
        assert entry["palette"] in demo.PALETTES
        features = entry["features"]
        assert sum(pct for _, pct in features) == 100
        assert all(code in demo.FIBRES and isinstance(pct, int) and pct > 0 for code, pct in features)
        assert entry["design"] in name


def test_designs_colourways_and_palette_ground_truth(catalogue: tuple[Path, dict[str, dict]]) -> None:
    _, meta = catalogue
    by_design: dict[str, list[dict]] = {}
    for entry in meta.values():
        by_design.setdefault(entry["design"], []).append(entry)
    assert sorted(by_design) == [f"KM{10001 + i}" for i in range(SMALL["designs"])]
    for entries in by_design.values():
        assert sorted(e["colourway"] for e in entries) == ["1", "2", "3"]
        for field in ("season", "quality", "features", "pattern_family"):
            assert len({json.dumps(e[field]) for e in entries}) == 1, field
        assert len({e["palette"] for e in entries}) == len(entries)  # colourways differ in palette
    # every family appears in a 12-design catalogue, and palettes are shared between designs
    assert {e["pattern_family"] for e in meta.values()} == set(demo.FAMILIES)
    designs_per_palette: dict[str, set[str]] = {}
    for e in meta.values():
        designs_per_palette.setdefault(e["palette"], set()).add(e["design"])
    assert max(len(v) for v in designs_per_palette.values()) >= 3


def test_messy_names_map_to_correct_metadata(catalogue: tuple[Path, dict[str, dict]]) -> None:
    _, meta = catalogue
    messy = [name for name in meta if not CLEAN_NAME.match(name)]
    assert messy, "expected a few deliberately messy file names"
    assert any("  " in name for name in messy)
    assert any(re.match(r"^(AW|SS)-\d\d ", name) for name in messy)
    assert any(re.match(r"^\d\d (AW|SS) ", name) for name in messy)
    for name, entry in meta.items():
        m = ANY_NAME.match(name)
        assert m, name
        assert _season_from_name(m["season"]) == entry["season"], name
        assert " ".join(m["quality"].split()).title() == entry["quality"], name
        assert m["design"] == entry["design"] and m["cw"] == entry["colourway"], name


def test_every_image_is_rgb_jpeg_of_requested_size(catalogue: tuple[Path, dict[str, dict]]) -> None:
    meta_path, meta = catalogue
    for name in meta:
        with Image.open(meta_path.parent / name) as im:
            assert im.format == "JPEG"
            assert im.mode == "RGB"
            assert im.size == (SMALL["size"], SMALL["size"])


def test_colourways_share_geometry_but_not_colour(catalogue: tuple[Path, dict[str, dict]]) -> None:
    meta_path, meta = catalogue
    names = sorted(meta)
    pixels = {n: _rgb(meta_path.parent / n) for n in names}
    fit: dict[tuple[str, str], float] = {}
    for a, b in itertools.combinations(names, 2):
        fit[a, b] = fit[b, a] = max(_affine_fit(pixels[a], pixels[b]), _affine_fit(pixels[b], pixels[a]))
    sibling_fits, other_fits = [], []
    for a in names:
        best = max((b for b in names if b != a), key=lambda b: fit[a, b])
        assert meta[best]["design"] == meta[a]["design"], f"{a} best matches {best}"
    for a, b in itertools.combinations(names, 2):
        (sibling_fits if meta[a]["design"] == meta[b]["design"] else other_fits).append(fit[a, b])
        if meta[a]["design"] == meta[b]["design"]:
            mean_a, mean_b = pixels[a].reshape(-1, 3).mean(0), pixels[b].reshape(-1, 3).mean(0)
            assert np.linalg.norm(mean_a - mean_b) > 10.0, (a, b)
    assert np.mean(sibling_fits) > 0.6
    assert np.mean(other_fits) < 0.1


def test_same_palette_images_are_closer_in_colour(catalogue: tuple[Path, dict[str, dict]]) -> None:
    meta_path, meta = catalogue
    means = {n: _rgb(meta_path.parent / n).reshape(-1, 3).mean(0) for n in meta}
    same, different = [], []
    for a, b in itertools.combinations(meta, 2):
        if meta[a]["design"] == meta[b]["design"]:
            continue
        dist = float(np.linalg.norm(means[a] - means[b]))
        (same if meta[a]["palette"] == meta[b]["palette"] else different).append(dist)
    assert same and np.mean(same) < 0.6 * np.mean(different)


def test_deterministic_and_prefix_stable(tmp_path: Path, catalogue: tuple[Path, dict[str, dict]]) -> None:
    meta_path, meta = catalogue
    again = demo.generate_demo_catalogue(tmp_path / "again", progress=False, **SMALL)
    assert again.read_bytes() == meta_path.read_bytes()
    for name in meta:
        assert (tmp_path / "again" / name).read_bytes() == (meta_path.parent / name).read_bytes(), name
    # design i does not depend on how many designs were asked for
    fewer = demo.generate_demo_catalogue(tmp_path / "fewer", progress=False, **{**SMALL, "designs": 2})
    for name in json.loads(fewer.read_text(encoding="utf-8")):
        assert (tmp_path / "fewer" / name).read_bytes() == (meta_path.parent / name).read_bytes(), name


def test_other_seed_gives_other_catalogue(tmp_path: Path, catalogue: tuple[Path, dict[str, dict]]) -> None:
    meta_path, _ = catalogue
    other = demo.generate_demo_catalogue(tmp_path, progress=False, **{**SMALL, "designs": 2, "seed": 8})
    assert other.read_bytes() != meta_path.read_bytes()


@pytest.mark.parametrize(
    "kwargs",
    [{"designs": 0}, {"colourways": 0}, {"colourways": len(demo.PALETTES) + 1}, {"size": 8}, {"seed": -1}],
)
def test_function_rejects_bad_arguments(tmp_path: Path, kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        demo.generate_demo_catalogue(tmp_path, progress=False, **kwargs)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "argv",
    [
        ["--designs", "0"],
        ["--colourways", "0"],
        ["--size", "10"],
        ["--designs", "many"],
        ["--seed", "-3"],
        ["--bogus"],
        None,  # --out missing
    ],
)
def test_cli_exits_2_with_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str] | None
) -> None:
    full = [] if argv is None else ["--out", str(tmp_path / "cat"), *argv]
    assert swatch_main(["demo", *full]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0]
    assert not (tmp_path / "cat" / "image_metadata_map.json").exists()


def test_cli_main_writes_catalogue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cat"
    argv = [
        "--out",
        str(out),
        "--designs",
        "3",
        "--colourways",
        "2",
        "--size",
        "48",
        "--seed",
        "1",
        "--no-progress",
    ]
    assert swatch_main(["demo", *argv]) == 0
    meta_path = out / "image_metadata_map.json"
    assert capsys.readouterr().out.strip() == f"wrote 6 images and {meta_path}"
    assert len(json.loads(meta_path.read_text(encoding="utf-8"))) == 6


def test_cli_as_module_subprocess(tmp_path: Path) -> None:
    out = tmp_path / "cat"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    cmd = [
        sys.executable,
        "-m",
        "swatch.demo",
        "--out",
        str(out),
        "--designs",
        "2",
        "--colourways",
        "2",
        "--size",
        "48",
    ]
    done = subprocess.run(
        cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote 4 images and {out / 'image_metadata_map.json'}"
    assert len(list(out.glob("*.jpg"))) == 4
    bad = subprocess.run(
        [*cmd[:3], "--out", str(out), "--designs", "0"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1
