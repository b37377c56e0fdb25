"""The change watcher on a real folder: new, changed (content and size), removed files and the metadata file, by
stat, hashing only the files whose stat moved; a cancelled ingest takes back what it wrote."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import shared_conftest

from swatch.catalog.db import Catalog
from swatch.catalog.folders import folder_by_root, list_folders
from swatch.config import Settings
from swatch.features.store import FeatureStore
from swatch.ingest import ingest
from swatch.jobs import JobCancelled
from swatch.watch import check_folder, record_baseline, remove_folder_designs

make_image = shared_conftest().make_image


def _folder(tmp_path: Path, n: int = 4) -> Path:
    folder = tmp_path / "house"
    for i in range(n):
        make_image(folder / f"AW22 - LINE - KM{1000 + i}-1.png", seed=i)
    (folder / "image_metadata_map.json").write_text(json.dumps({}))
    return folder


def _check(settings: Settings, folder: Path):  # type: ignore[no-untyped-def]
    catalog = Catalog(settings.db_path)
    row = folder_by_root(catalog, str(folder.resolve()))
    assert row is not None, "ingest registers the folder it read"
    return check_folder(settings, catalog, row)


def test_the_watcher_counts_new_changed_removed_files_and_a_metadata_change(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    settings = Settings.from_env(data_dir=tmp_path / "data")
    ingest(folder, settings, models=["color"], progress=False)

    first = _check(settings, folder)
    assert first.counts == {"new": 0, "changed": 0, "removed": 0} and not first.metadata_changed
    assert first.files == 4 and first.hashed == 4  # no stats known yet: each file hashed once
    again = _check(settings, folder)
    assert again.counts == {"new": 0, "changed": 0, "removed": 0} and again.hashed == 0  # stat only

    names = sorted(p.name for p in folder.glob("*.png"))
    touched = folder / names[0]
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 5_000_000_000))
    make_image(folder / "sub" / "SS23 - LINE - KM2000-1.png", seed=40)  # new, in a sub-folder
    make_image(folder / names[1], seed=41)  # same size, other content
    make_image(folder / names[2], size=(120, 80), seed=42)  # another size: changed without hashing
    (folder / names[3]).unlink()  # removed
    (folder / "notes.txt").write_text("not an image")
    (folder / ".hidden.png").write_bytes((folder / names[0]).read_bytes())
    (folder / "image_metadata_map.json").write_text(json.dumps({"x": {}}))

    report = _check(settings, folder)
    assert report.counts == {"new": 1, "changed": 2, "removed": 1}
    assert report.new == ["sub/SS23 - LINE - KM2000-1.png"]
    assert report.changed == sorted([names[1], names[2]]) and report.removed == [names[3]]
    assert report.metadata_changed and report.pending
    assert report.hashed == 2  # the touched file (same content) and the same-size rewrite; nothing else
    assert _check(settings, folder).hashed == 1  # the touched file's new stat is remembered; the rewrite is not

    # the saved report is what the API serves
    row = list_folders(Catalog(settings.db_path))[0]
    assert row.changes["counts"] == {"new": 1, "changed": 2, "removed": 1}

    # ingest it: nothing pending after, and the stats are known (no hashing on the next check)
    started = __import__("time").time_ns()
    ingest(folder, settings, models=["color"], progress=False)
    record_baseline(Catalog(settings.db_path), row.id, started)
    clean = _check(settings, folder)
    assert clean.counts == {"new": 0, "changed": 0, "removed": 0} and not clean.metadata_changed
    assert clean.hashed == 0 and not clean.pending


def test_a_missing_folder_is_reported_not_counted(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 2)
    settings = Settings.from_env(data_dir=tmp_path / "data")
    ingest(folder, settings, models=["color"], progress=False)
    catalog = Catalog(settings.db_path)
    row = folder_by_root(catalog, str(folder.resolve()))
    assert row is not None
    folder.rename(tmp_path / "elsewhere")
    report = check_folder(settings, catalog, row)
    assert report.missing and not report.pending and report.counts["removed"] == 0


def test_a_cancelled_ingest_takes_back_its_rows_and_publishes_nothing(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 3)
    settings = Settings.from_env(data_dir=tmp_path / "data", batch_size=1)
    ingest(folder, settings, models=["color"], progress=False)
    catalog = Catalog(settings.db_path)
    before_ids = sorted(catalog.live_ids())
    before_rows = FeatureStore(settings.features_dir).load("color", "v1").ids.tolist()
    names = sorted(p.name for p in folder.glob("*.png"))
    make_image(folder / names[0], size=(100, 70), seed=50)  # changed: its old row is retired during the ingest
    (folder / names[1]).unlink()  # gone: retired too
    for i in range(4):
        make_image(folder / f"new-{i}.png", seed=60 + i)
    seen: list[str] = []

    def step(message: str, fraction: float) -> None:
        seen.append(message)
        if message.startswith("extracting 2/"):
            raise JobCancelled()

    with pytest.raises(JobCancelled):
        ingest(folder, settings, models=["color"], progress=False, step=step)
    assert seen[0] == "scanning" and any(m.startswith("hashing") for m in seen)
    assert sorted(catalog.live_ids()) == before_ids  # the added rows retired again, the retired ones back
    assert FeatureStore(settings.features_dir).load("color", "v1").ids.tolist() == before_rows

    summary = ingest(folder, settings, models=["color"], progress=False, step=lambda m, f: seen.append(m))
    assert (summary.added, summary.changed, summary.removed) == (4, 1, 1)
    assert seen[-1] == "publishing"
    assert len(FeatureStore(settings.features_dir).load("color", "v1").ids) == 3 - 1 + 4


def test_removing_a_folder_marks_its_designs_and_an_ingest_brings_them_back(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 3)
    settings = Settings.from_env(data_dir=tmp_path / "data")
    ingest(folder, settings, models=["color"], progress=False)
    catalog = Catalog(settings.db_path)
    ids = sorted(catalog.live_ids())
    row = folder_by_root(catalog, str(folder.resolve()))
    assert row is not None
    done = remove_folder_designs(settings, catalog, row.id)
    assert done["removed"] == 3 and "color/v1" in done["versions"]
    assert catalog.live_ids() == [] and len(FeatureStore(settings.features_dir).load("color", "v1")) == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*(f"AW22 - LINE - KM{1000 + i}-1.png" for i in range(3)), "image_metadata_map.json"])  # nothing deleted
    removed = folder_by_root(catalog, str(folder.resolve()))
    assert removed is not None and removed.removed_at is not None
    ingest(folder, settings, models=["color"], progress=False)
    assert sorted(catalog.live_ids()) == ids  # the same rows brought back
    back = folder_by_root(catalog, str(folder.resolve()))
    assert back is not None and back.removed_at is None
