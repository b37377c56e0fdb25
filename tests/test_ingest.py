"""Ingest end to end: a mixed good/bad folder through the CLI, idempotence, metadata, and a SIGKILL part-way."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import BLUE, RED, build_mixed_folder, red_over_blue, shared_conftest
from PIL import Image

from swatch.catalog.db import Catalog
from swatch.config import Settings
from swatch.features.base import Extractor, get_extractor
from swatch.features.store import FeatureStore
from swatch.images import open_image
from swatch.ingest import ingest

ROOT = Path(__file__).resolve().parent.parent
MODELS = ("color", "pattern", "color+pattern")
make_image = shared_conftest().make_image


@pytest.fixture(scope="module")
def extractors() -> dict[str, Extractor]:
    """The real extractors, loaded once for the in-process ingests of this module."""
    return {"color": get_extractor("color"), "pattern": get_extractor("pattern")}


def run_cli(args: list[str], data_dir: Path, timeout: float = 240, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "SWATCH_DATA_DIR": str(data_dir), **env}
    return subprocess.run([sys.executable, str(ROOT / "extract_features.py"), *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=timeout)


def version_ids(data_dir: Path) -> dict[str, set[int]]:
    """Ids of every published feature version, after checking rows == ids == info.count."""
    store = FeatureStore(data_dir / "image_features")
    out: dict[str, set[int]] = {}
    for model in store.models():
        for version in store.versions(model):
            fv = store.load(model, version)
            assert fv.features.shape[0] == len(fv.ids) == fv.info["count"]
            assert np.allclose(np.linalg.norm(np.asarray(fv.features), axis=1), 1.0, atol=1e-4)
            out[f"{model}/{version}"] = set(int(i) for i in fv.ids)
    return out


def row_of(data_dir: Path, model: str, image_id: int) -> np.ndarray:
    fv = FeatureStore(data_dir / "image_features").load(model, "v1")
    return np.asarray(fv.features[list(fv.ids).index(image_id)])


def live_by_path(data_dir: Path) -> dict[str, int]:
    return {img.path: img.id for img in Catalog(data_dir / "catalog.db").live_images()}


# -- a folder mixing good and bad files, through the command line --


def test_mixed_folder_via_cli(tmp_path: Path, extractors: dict[str, Extractor]) -> None:
    folder, data = tmp_path / "designs", tmp_path / "data"
    good, bad = build_mixed_folder(folder)
    proc = run_cli(["--images", str(folder), "--quiet"], data)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.startswith(f"added {len(good)}, changed 0, unchanged 0, removed 0, failed {len(bad)} in ")
    failed_lines = [line for line in proc.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failed_lines) == len(bad)
    for name, reason in bad.items():
        assert any(line.startswith(f"failed: {name}: ") and reason in line for line in failed_lines), name

    catalog = Catalog(data / "catalog.db")
    live = {img.path: img for img in catalog.live_images()}
    assert set(live) == good
    assert version_ids(data) == {f"{m}/v1": {img.id for img in live.values()} for m in MODELS}

    # the EXIF-rotated JPEG is stored upright: size, thumbnail and features
    rotated = live["rotated.jpg"]
    assert (rotated.width, rotated.height) == (80, 60)
    assert rotated.thumbnail is not None
    with Image.open(data / "thumbnails" / rotated.thumbnail) as thumb:
        arr = np.asarray(thumb.convert("RGB"), dtype=int)
    assert arr.shape[:2] == (60, 80)
    assert np.abs(arr[5, 40] - RED).max() < 40 and np.abs(arr[55, 40] - BLUE).max() < 40
    stored = row_of(data, "pattern", rotated.id)
    decoded = extractors["pattern"].extract([open_image(folder / "rotated.jpg")])[0]
    with Image.open(folder / "rotated.jpg") as raw:  # the pixels as stored in the file, turned
        as_stored = extractors["pattern"].extract([raw.convert("RGB")])[0]
    upright = extractors["pattern"].extract([red_over_blue()])[0]
    assert float(stored @ decoded) > 0.999
    assert float(stored @ upright) > 0.97  # about 0.99 (JPEG artefacts)
    assert float(stored @ upright) > float(stored @ as_stored)  # about 0.95


# -- idempotence: unchanged, changed, deleted and revived files --


def test_reingest_changes_and_removals(tmp_path: Path, extractors: dict[str, Extractor]) -> None:
    folder, data = tmp_path / "designs", tmp_path / "data"
    for k in range(6):
        make_image(folder / f"SS23 - LINEN - KM1000{k}-1.png", size=(64, 48), seed=k)
    settings = Settings.from_env(data_dir=data)

    def again() -> object:
        return ingest(folder, settings, progress=False, extractors=extractors, log=lambda _m: None)

    first = again()
    assert (first.added, first.unchanged, first.failed) == (6, 0, {})
    ids = live_by_path(data)
    assert set(version_ids(data)) == {f"{m}/v1" for m in MODELS}
    snap = FeatureStore(data / "image_features").load("pattern", "v1").path

    second = again()
    assert (second.added, second.changed, second.unchanged, second.removed) == (0, 0, 6, 0)
    assert second.versions == [] and second.extracted == 0
    assert FeatureStore(data / "image_features").load("pattern", "v1").path == snap  # not even republished

    # new content under the same name: a new row replaces the old one in every version
    changed_name = "SS23 - LINEN - KM10002-1.png"
    old_id, old_row = ids[changed_name], row_of(data, "color", ids[changed_name])
    Image.new("RGB", (64, 48), (200, 30, 30)).save(folder / changed_name)  # plain red instead of noise
    third = again()
    assert (third.added, third.changed, third.unchanged) == (0, 1, 5)
    new_id = live_by_path(data)[changed_name]
    assert new_id != old_id
    for name, members in version_ids(data).items():
        assert new_id in members and old_id not in members and len(members) == 6, name
    assert float(row_of(data, "color", new_id) @ old_row) < 0.5

    # a deleted file is marked removed and leaves every version
    gone = "SS23 - LINEN - KM10004-1.png"
    kept_bytes = (folder / gone).read_bytes()
    (folder / gone).unlink()
    fourth = again()
    assert (fourth.removed, fourth.added) == (1, 0)
    catalog = Catalog(data / "catalog.db")
    assert catalog.count_images() == 5
    removed = catalog.image(ids[gone])
    assert removed is not None and removed.removed_at is not None
    for name, members in version_ids(data).items():
        assert ids[gone] not in members and len(members) == 5, name

    # putting it back revives the same catalogue row, with features
    (folder / gone).write_bytes(kept_bytes)
    fifth = again()
    assert (fifth.added, fifth.removed, fifth.unchanged) == (1, 0, 5)
    assert live_by_path(data)[gone] == ids[gone]
    for name, members in version_ids(data).items():
        assert ids[gone] in members and len(members) == 6, name


def test_metadata_from_map_csv_and_names(tmp_path: Path, extractors: dict[str, Extractor]) -> None:
    folder, data = tmp_path / "designs", tmp_path / "data"
    names = ["scan_001.jpg", "AW-22  -  DUNDEE  SUIT - KM11554-4.jpg", "22 SS - OSCAR PRESTIGE - KM13178-2.png",
             "IMG_0042.jpg"]
    for k, name in enumerate(names):
        make_image(folder / name, size=(48, 48), seed=20 + k)
    (folder / "image_metadata_map.json").write_text(json.dumps({
        "scan_001.jpg": {"design": "KM13178", "season": "2022-SS", "quality": "Oscar Prestige",
                         "features": [["WV", 60], ["PES", 40]], "cluster": "cluster_5", "mill": "Dundee"},
    }), encoding="utf-8")
    settings = Settings.from_env(data_dir=data)
    ingest(folder, settings, progress=False, extractors=extractors, log=lambda _m: None)
    catalog = Catalog(data / "catalog.db")
    by_name = {img.path: img for img in catalog.live_images()}
    scan = by_name["scan_001.jpg"]
    assert (scan.design, scan.season, scan.quality, scan.cluster) == ("KM13178", "2022-SS", "Oscar Prestige",
                                                                      "cluster_5")
    assert scan.composition == (("WV", 60.0), ("PES", 40.0)) and scan.extras == {"mill": "Dundee"}
    assert catalog.connect().execute(
        "SELECT fiber, pct FROM composition WHERE image_id = ? ORDER BY fiber", (scan.id,)
    ).fetchall() == [("PES", 40.0), ("WV", 60.0)]
    messy = by_name["AW-22  -  DUNDEE  SUIT - KM11554-4.jpg"]
    assert (messy.season, messy.quality, messy.design, messy.colourway) == ("2022-AW", "Dundee Suit", "KM11554", "4")
    other = by_name["22 SS - OSCAR PRESTIGE - KM13178-2.png"]
    assert (other.season, other.design, other.colourway) == ("2022-SS", "KM13178", "2")
    unknown = by_name["IMG_0042.jpg"]
    assert (unknown.design, unknown.season, unknown.composition) == (None, None, ())

    # a CSV given on the command line replaces what the map said, and is applied without re-extracting
    csv_file = tmp_path / "meta.csv"
    csv_file.write_text("file;design;season;quality;fiber_WV;fiber_EL\n"
                        "IMG_0042.jpg;KM20000;AW 23;Harrow Twill;98;2\n", encoding="utf-8")
    summary = ingest(folder, settings, metadata_file=csv_file, progress=False, extractors=extractors,
                     log=lambda _m: None)
    assert summary.extracted == 0
    img = Catalog(data / "catalog.db").find_image("IMG_0042.jpg")
    assert img is not None
    assert (img.design, img.season, img.quality) == ("KM20000", "2023-AW", "Harrow Twill")
    assert img.composition == (("WV", 98.0), ("EL", 2.0))


def test_changed_extractor_settings_rebuild_the_version(tmp_path: Path, extractors: dict[str, Extractor]) -> None:
    folder, data = tmp_path / "designs", tmp_path / "data"
    for k in range(3):
        make_image(folder / f"d{k}.png", size=(48, 48), seed=40 + k)
    settings = Settings.from_env(data_dir=data)
    ingest(folder, settings, models=["color"], progress=False, extractors=extractors, log=lambda _m: None)
    finer = get_extractor("color", bins=(4, 6, 6))
    summary = ingest(folder, settings, models=["color"], progress=False, extractors={"color": finer},
                     log=lambda _m: None)
    assert summary.rebuilt == ["color"] and summary.unchanged == 3
    fv = FeatureStore(data / "image_features").load("color", "v1")
    assert fv.features.shape == (3, 4 * 6 * 6) and fv.info["params"]["bins"] == [4, 6, 6]


# -- SIGKILL part-way, then again --


def _catalogue_rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM images").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_sigkill_part_way_then_rerun(tmp_path: Path, extractors: dict[str, Extractor]) -> None:
    folder, data = tmp_path / "designs", tmp_path / "data"
    # a first, complete ingest of 8 images, so that published versions exist when the kill comes
    for k in range(8):
        make_image(folder / f"design_{k:03d}.jpg", size=(96, 72), seed=100 + k)
    settings = Settings.from_env(data_dir=data)
    ingest(folder, settings, progress=False, extractors=extractors, log=lambda _m: None)
    before = version_ids(data)
    for k in range(8, 80):
        make_image(folder / f"design_{k:03d}.jpg", size=(96, 72), seed=100 + k)
    db = data / "catalog.db"

    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "extract_features.py"), "--images", str(folder), "--quiet"], cwd=ROOT,
        env={**os.environ, "SWATCH_DATA_DIR": str(data), "SWATCH_BATCH_SIZE": "8"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while _catalogue_rows(db) < 8 + 8 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "ingest ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert 8 + 8 <= _catalogue_rows(db) < 80  # killed part-way: some new rows in, not all
    store = FeatureStore(data / "image_features")
    assert {m: store.versions(m) for m in store.models()} == {m: ["v1"] for m in MODELS}  # no .tmp-* shows
    assert version_ids(data) == before  # every version loads, consistent, still the complete one from before

    again = run_cli(["--images", str(folder), "--quiet"], data, SWATCH_BATCH_SIZE="8")
    assert again.returncode == 0, again.stderr
    live = set(Catalog(db).live_ids())
    assert len(live) == 80
    assert version_ids(data) == {f"{m}/v1": live for m in MODELS}


# -- an unchanged folder again, from the command line: no backbone, nothing republished --


def _imported(stderr: str) -> set[str]:
    """Module names a run imported, from PYTHONPROFILEIMPORTTIME's lines on stderr."""
    return {line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_unchanged_reingest_via_cli_never_loads_the_backbone(tmp_path: Path) -> None:
    folder, data = tmp_path / "designs", tmp_path / "data"
    for k in range(4):
        make_image(folder / f"SS23 - LINEN - KM2000{k}-1.png", size=(64, 48), seed=60 + k)
    meta = folder / "image_metadata_map.json"
    meta.write_text(json.dumps({"SS23 - LINEN - KM20000-1.png": {"quality": "Linen"}}), encoding="utf-8")
    first = run_cli(["--images", str(folder), "--quiet", "--json"], data, PYTHONPROFILEIMPORTTIME="1")
    assert first.returncode == 0, first.stderr[-2000:]
    assert json.loads(first.stdout)["added"] == 4
    # the check below can see the backbone being loaded: under ONNX Runtime (an export already cached in
    # SWATCH_MODEL_CACHE_DIR) or under torch (exported first)
    loaded = _imported(first.stderr)
    assert "onnxruntime" in loaded or {"torch", "timm"} <= loaded
    features = data / "image_features"
    before = {p.relative_to(features).as_posix(): (os.readlink(p) if p.is_symlink() else p.stat().st_mtime_ns)
              for p in sorted(features.rglob("*"))}

    def unchanged_run() -> dict[str, object]:
        proc = run_cli(["--images", str(folder), "--quiet", "--json"], data, PYTHONPROFILEIMPORTTIME="1")
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert not {"torch", "timm", "onnxruntime", "swatch.features.pattern.pooling"} & _imported(proc.stderr)
        after = {p.relative_to(features).as_posix(): (os.readlink(p) if p.is_symlink() else p.stat().st_mtime_ns)
                 for p in sorted(features.rglob("*"))}
        assert after == before  # no version republished, no file rewritten
        summary: dict[str, object] = json.loads(proc.stdout)
        return summary

    again = unchanged_run()
    assert (again["added"], again["changed"], again["unchanged"], again["removed"]) == (0, 0, 4, 0)
    assert again["versions"] == []

    # a metadata change alone is applied, still without the backbone
    meta.write_text(json.dumps({"SS23 - LINEN - KM20000-1.png": {"quality": "Harrow Twill"}}), encoding="utf-8")
    assert unchanged_run()["unchanged"] == 4
    img = Catalog(data / "catalog.db").find_image("SS23 - LINEN - KM20000-1.png")
    assert img is not None and img.quality == "Harrow Twill"

    # a changed, an added and a vanished file are all still picked up
    ids = live_by_path(data)
    Image.new("RGB", (64, 48), (200, 30, 30)).save(folder / "SS23 - LINEN - KM20001-1.png")
    make_image(folder / "SS23 - LINEN - KM20009-1.png", size=(64, 48), seed=69)
    (folder / "SS23 - LINEN - KM20003-1.png").unlink()
    proc = run_cli(["--images", str(folder), "--quiet", "--json"], data)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    assert (summary["added"], summary["changed"], summary["unchanged"], summary["removed"]) == (1, 1, 2, 1)
    live = live_by_path(data)
    assert live["SS23 - LINEN - KM20001-1.png"] != ids["SS23 - LINEN - KM20001-1.png"]
    assert "SS23 - LINEN - KM20003-1.png" not in live
    for name, members in version_ids(data).items():
        assert members == set(live.values()), name
