"""A graph whose measured recall@100 falls short is searched wider: the efSearch saved in its sidecar."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from swatch.features.store import FeatureStore
from swatch.search import faiss_build
from swatch.search.faiss_build import EF_STEPS, build_index, index_dir, prepare_index, tune_ef
from swatch.testing.synthetic import textile_rows

N, D, EXACT_MAX = 6000, 768, 2000  # above the flat size and the exact threshold: an HNSW graph


def test_the_ef_reaching_the_target_is_saved_and_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = textile_rows(N, D, np.arange(N) // 6, seed=3)
    fv = FeatureStore(tmp_path / "f").publish("pattern", "v1", rows, np.arange(N), {"kind": "t"})
    monkeypatch.setattr(faiss_build, "RECALL_TARGET", 1.01)  # never reached: every step is tried, the widest kept
    prepare_index(fv, tmp_path / "ix", EXACT_MAX)
    sidecar = json.loads((index_dir(tmp_path / "ix", fv) / "info.json").read_text())
    recall, ef = sidecar["recall_at_k"], sidecar["params"]["ef_search"]
    tried = [int(e) for e in recall["by_ef_search"]]
    assert sorted(tried) == list(EF_STEPS) and ef == EF_STEPS[-1] and recall["target"] == 1.01
    assert recall["recall"] == recall["by_ef_search"][str(ef)] >= recall["by_ef_search"][str(EF_STEPS[0])]
    index = build_index(fv, tmp_path / "ix", EXACT_MAX)  # a server: maps the graph, searches at the saved ef
    assert index.info["hnsw"]["reused"] is True and index.ef_search == ef
    first, met = tune_ef(index, target=0.5, queries=20)  # reached at once: the narrowest step
    assert first == EF_STEPS[0] and list(met["by_ef_search"]) == [str(EF_STEPS[0])] and met["recall"] >= 0.5
