"""HNSW graphs built once at publish, saved beside the snapshot with a checked sidecar, memory-mapped by servers."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from swatch.features.store import FeatureStore, FeatureVersion
from swatch.search.cache import IndexCache, prepare_published
from swatch.search.faiss_build import GRAPH_FILE, build_index, file_crc32, index_dir, prepare_index
from swatch.testing.checks import assert_same_ranking, brute_force
from swatch.testing.synthetic import textile_rows

EXACT_MAX = 2000  # a 6000-row version is "large" here: it gets an HNSW graph


@pytest.fixture()
def published(tmp_path: Path) -> tuple[Path, FeatureVersion, np.ndarray]:
    n, d = 6000, 768  # 4.6 M values: above the flat-scan size
    rows = textile_rows(n, d, np.arange(n) // 6, seed=11)
    fv = FeatureStore(tmp_path / "image_features").publish("pattern", "v1", rows, np.arange(n), {"kind": "t"})
    return tmp_path, fv, rows


def _folder(root: Path, fv: FeatureVersion) -> Path:
    return index_dir(root / "indexes", fv)


def test_prepare_saves_the_graph_with_a_sidecar_and_servers_map_it_without_building(published) -> None:
    root, fv, rows = published
    info = prepare_index(fv, root / "indexes", EXACT_MAX)
    assert info is not None and info["reused"] is False
    folder = _folder(root, fv)
    sidecar = json.loads((folder / "info.json").read_text())
    assert sidecar["kind"] == "hnsw+int8" and sidecar["rows"] == 6000 and sidecar["dims"] == 768
    assert sidecar["params"] == {"M": 16, "ef_construction": 40, "ef_search": 128}
    assert sidecar["recall_at_k"]["k"] == 100 and sidecar["recall_at_k"]["recall"] >= 0.9
    assert sidecar["build_seconds"] > 0 and sidecar["int8_max_residual"] > 0
    graph = folder / GRAPH_FILE
    assert sidecar["saved"] == {"file": GRAPH_FILE, "bytes": graph.stat().st_size, "crc32": file_crc32(graph)}
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp file left behind
    before = (graph.stat().st_ino, graph.stat().st_mtime_ns, (folder / "info.json").read_bytes())

    index = build_index(fv, root / "indexes", EXACT_MAX)  # what a server process does at warm-up
    assert index.info["kind"] == "hnsw+int8" and index.info["hnsw"]["reused"] is True and index.info["mapped"]
    assert index.residual == sidecar["int8_max_residual"] and index.info["recall_at_k"] == sidecar["recall_at_k"]
    assert (graph.stat().st_ino, graph.stat().st_mtime_ns, (folder / "info.json").read_bytes()) == before
    again = prepare_index(fv, root / "indexes", EXACT_MAX)  # a second publish step: no rebuild
    assert again is not None and again["reused"] is True
    assert graph.stat().st_mtime_ns == before[1]
    top = index.search(rows[3], 10)  # approximate, over the mapped graph and codes
    assert not top.exact and top.rows[0] == 3
    allowed = np.zeros(len(rows), bool)
    allowed[::5] = True  # 1200 rows, under the threshold: certified exact over the mapped codes
    hits = index.search(rows[3], 40, allowed)
    truth, truth_scores = brute_force(rows, rows[3], 40, allowed)
    assert hits.exact
    assert_same_ranking(hits.rows, truth, truth_scores, rows.astype(np.float64) @ rows[3].astype(np.float64))


@pytest.mark.parametrize("damage", ["truncate", "flip", "drop", "foreign"])
def test_a_damaged_saved_graph_is_detected_rebuilt_and_reported_never_served(
    published, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    root, fv, rows = published
    prepare_index(fv, root / "indexes", EXACT_MAX)
    folder = _folder(root, fv)
    graph = folder / GRAPH_FILE
    data = graph.read_bytes()
    if damage == "truncate":  # a torn copy
        graph.write_bytes(data[: len(data) // 2])
        reason = "truncated"
    elif damage == "flip":  # same size, other bytes: only the checksum sees it
        mid = len(data) // 2
        graph.write_bytes(data[:mid] + bytes(b ^ 0xFF for b in data[mid : mid + 64]) + data[mid + 64 :])
        reason = "corrupt"
    elif damage == "drop":
        graph.unlink()
        reason = "missing"
    else:  # a sidecar that names other rows
        sidecar = json.loads((folder / "info.json").read_text())
        (folder / "info.json").write_text(json.dumps({**sidecar, "rows": 5999}))
        reason = "other rows"
    with caplog.at_level(logging.WARNING, logger="swatch.search.faiss_build"):
        index = build_index(fv, root / "indexes", EXACT_MAX)
    assert any(reason in r.getMessage() and "rebuilding" in r.getMessage() for r in caplog.records)
    assert index.info["hnsw"]["reused"] is False and reason in index.info["rebuilt"]
    sidecar = json.loads((folder / "info.json").read_text())
    assert reason in sidecar["rebuilt"]
    assert sidecar["saved"]["bytes"] == graph.stat().st_size and sidecar["saved"]["crc32"] == file_crc32(graph)
    top = index.search(rows[8], 10)
    assert top.rows[0] == 8 and len(set(top.rows.tolist())) == 10


def test_an_old_graph_without_a_sidecar_is_rebuilt_as_before(published) -> None:
    root, fv, _rows = published
    folder = _folder(root, fv)
    folder.mkdir(parents=True)
    (folder / GRAPH_FILE).write_bytes(b"not a faiss index")
    (folder / "info.json").write_text(json.dumps({"snapshot": fv.path.name, "files": {}}))  # the old layout
    index = build_index(fv, root / "indexes", EXACT_MAX)
    assert index.info["hnsw"]["reused"] is False and "rebuilt" not in index.info
    assert json.loads((folder / "info.json").read_text())["saved"]["bytes"] == (folder / GRAPH_FILE).stat().st_size


def test_an_unwritable_index_folder_still_serves_from_memory(published) -> None:
    root, fv, rows = published
    (root / "indexes").write_bytes(b"")  # a file where the folder should be: nothing can be saved below it
    index = build_index(fv, root / "indexes", EXACT_MAX)
    assert index.info["kind"] == "hnsw+int8" and index.info["mapped"] is False
    assert index.search(rows[2], 5).rows[0] == 2


def test_a_loaded_graph_is_memory_mapped_not_copied(published) -> None:
    root, fv, _rows = published
    prepare_index(fv, root / "indexes", EXACT_MAX)
    size = (_folder(root, fv) / GRAPH_FILE).stat().st_size
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "import numpy as np\n"
        "from swatch.features.store import FeatureStore\n"
        "from swatch.search.faiss_build import build_index\n"
        "def anon():\n"
        "    return [int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('RssAnon')][0] * 1024\n"
        "root = Path(sys.argv[1])\n"
        "fv = FeatureStore(root / 'image_features').load('pattern', 'v1')\n"
        "before = anon()\n"
        f"index = build_index(fv, root / 'indexes', {EXACT_MAX})\n"
        "index.search(np.asarray(index.rows[0]), 10)\n"
        "print(index.info['mapped'], anon() - before)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    mapped, grown = out.stdout.split()
    assert mapped == "True"
    assert int(grown) < size / 4, (int(grown), size)  # the graph and codes stay in the page cache, shared


def test_the_cache_prepares_through_its_backend_and_only_large_versions_get_a_graph(published) -> None:
    root, fv, _rows = published
    small = FeatureStore(root / "image_features").publish(
        "color", "v1", textile_rows(300, 64, np.arange(300) // 3), np.arange(300), {})
    made = prepare_published(root / "image_features", root / "indexes", EXACT_MAX, ["pattern/v1", "color/v1"])
    assert list(made) == ["pattern/v1"] and made["pattern/v1"]["kind"] == "hnsw+int8"
    assert made["pattern/v1"]["rows"] == 6000 and made["pattern/v1"]["recall_at_k"]["recall"] >= 0.9
    assert not index_dir(root / "indexes", small).exists()

    class Plain:  # a backend without `prepare` (one written before it existed): nothing happens at publish
        def build(self, fv: FeatureVersion) -> None:
            raise AssertionError("not at publish")

        def stored_info(self, model: str, version: str) -> None:
            return None

        def prune(self, model: str, version: str, keep: set[str]) -> None:
            return None

    cache = IndexCache(root / "image_features", root / "other", EXACT_MAX, backend=Plain())  # type: ignore[arg-type]
    assert cache.prepare("pattern", "v1") is None and not (root / "other").exists()
