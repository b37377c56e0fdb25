"""Filters: parsing from parameters/JSON, and the image sets they select from the in-memory metadata table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from swatch.catalog.clusters import members
from swatch.catalog.db import Catalog, now_iso
from swatch.catalog.snapshot import MetadataSource
from swatch.config import Settings
from swatch.search.filters import ClusterFilter, FibreRange, FilterError, parse_filters
from swatch.testing.synthetic import FIBRES, synthetic_catalogue


def test_parse_accepts_single_values_lists_and_json_text() -> None:
    f = parse_filters({"season": "2022-AW", "quality": ["Dundee Suit", "Oscar  Prestige"], "design": '["KM1", "KM2"]'})
    assert f.season == ("2022-AW",) and f.quality == ("Dundee Suit", "Oscar Prestige") and f.design == ("KM1", "KM2")
    f = parse_filters({"composition": '{"fiber": "wv", "min": 50}', "cluster": {"version": "v1", "ids": [3, "5"]}})
    assert f.composition == (FibreRange("WV", 50.0, None),)
    assert f.cluster == ClusterFilter("v1", (3, 5))
    f = parse_filters({"composition": [{"fibre": "CO", "max": 30}, {"fiber": "WV", "min": 60, "max": 80}]})
    assert f.composition == (FibreRange("CO", None, 30.0), FibreRange("WV", 60.0, 80.0))
    assert parse_filters({}).empty and parse_filters({"season": "", "design": []}).empty


def test_parse_accepts_the_flat_form_of_the_page_filters() -> None:
    f = parse_filters({"fiber": "PES", "min": "0", "cluster_version": "v2", "cluster": "4"})
    assert f.composition == (FibreRange("PES", 0.0, None),)
    assert f.cluster == ClusterFilter("v2", (4,))


@pytest.mark.parametrize("params, words", [
    ({"composition": "{oops"}, "malformed JSON"),
    ({"composition": {"fiber": "WV", "min": 120}}, "0 to 100"),
    ({"composition": {"fiber": "WV", "min": 60, "max": 40}}, "above max"),
    ({"composition": {"min": 60}}, "fiber"),
    ({"composition": {"fiber": "WV", "least": 1}}, "unknown key"),
    ({"composition": "WV"}, "composition must be"),
    ({"cluster": {"version": "v1", "ids": ["x"]}}, "integers"),
    ({"cluster": {"version": "v1", "ids": [1.5]}}, "integers"),
    ({"cluster": {"ids": [1]}}, "version"),
    ({"cluster": "[1, 2]"}, "cluster must be"),
    ({"season": {"a": 1}}, "season must be"),
    ({"design": [" "]}, "empty value"),
])
def test_malformed_filters_are_refused_with_a_reason(params: dict, words: str) -> None:
    with pytest.raises(FilterError, match=words):
        parse_filters(params)


@pytest.fixture
def catalogue(tmp_path: Path):
    settings = Settings.from_env(data_dir=tmp_path / "data")
    made = synthetic_catalogue(settings, 600, {"pattern": 16}, seed=4, rare_fraction=0.05)
    return settings, made


def _truth(made: dict, keep) -> set[int]:
    meta = made["meta"]
    return {int(i) for k, i in enumerate(made["ids"]) if keep(k, meta)}


def test_masks_select_what_the_metadata_says(catalogue) -> None:
    settings, made = catalogue
    source = MetadataSource(Catalog(settings.database), interval=0.0)
    table = source.table()

    def selected(params: dict) -> set[int]:
        mask = parse_filters(params).mask(table, source.cluster_labels)
        return {int(i) for i in table.ids[mask]}

    rows = {int(r[0]): r for r in table.rows}
    assert selected({"season": "ss19"}) == {i for i, r in rows.items() if r[8] == "2019-SS"}  # names normalised
    assert len(selected({"season": "2019-SS"})) == 30
    assert selected({"quality": ["dundee suit", "HARRIS TWEED"]}) == {
        i for i, r in rows.items() if r[9] in ("Dundee Suit", "Harris Tweed")}
    assert selected({"design": "km10003"}) == {i for i, r in rows.items() if r[6] == "KM10003"}
    assert selected({"season": "2099-SS"}) == set()
    wv = {i: dict(r[10]).get("WV", 0.0) for i, r in rows.items()}
    assert selected({"composition": {"fiber": "WV", "min": 55}}) == {i for i, p in wv.items() if p >= 55}
    assert selected({"composition": {"fiber": "WV", "max": 45}}) == {i for i, p in wv.items() if p <= 45}
    assert selected({"fiber": "WV"}) == {i for i, p in wv.items() if p > 0}
    both = selected({"season": "2022-AW", "composition": {"fiber": "WV", "min": 50}})
    assert both == {i for i, r in rows.items() if r[8] == "2022-AW" and wv[i] >= 50}
    main = made["meta"]["main"]
    assert {FIBRES[int(m)] for m in main} <= set(table.fibres)


def test_cluster_filter_follows_hand_moves(catalogue) -> None:
    settings, made = catalogue
    catalog = Catalog(settings.database)
    ids = [int(i) for i in made["ids"]]
    with catalog.transaction() as tx:
        tx.execute("INSERT INTO cluster_versions(version, model, feature_version, k, created_at)"
                   " VALUES ('v1', 'pattern', 'v1', 4, ?)", (now_iso(),))
        tx.executemany("INSERT INTO cluster_assignments(version, image_id, cluster) VALUES ('v1', ?, ?)",
                       [(i, i % 4) for i in ids])
    source = MetadataSource(catalog, interval=0.0)

    def selected(cluster_ids: list[int]) -> set[int]:
        table = source.table()
        mask = parse_filters({"cluster": {"version": "v1", "ids": cluster_ids}}).mask(table, source.cluster_labels)
        return {int(i) for i in table.ids[mask]}

    assert selected([1, 3]) == members(catalog, "v1", [1, 3])
    with catalog.transaction() as tx:  # move an image from cluster 0 to cluster 1 by hand
        tx.execute("INSERT INTO cluster_moves(version, image_id, from_cluster, to_cluster, moved_at)"
                   " VALUES ('v1', ?, 0, 1, ?)", (ids[0 if ids[0] % 4 == 0 else 4 - ids[0] % 4], now_iso()))
    assert selected([1]) == members(catalog, "v1", [1])
    assert selected([0]) == members(catalog, "v1", [0])


def test_the_table_follows_catalogue_changes(catalogue) -> None:
    settings, made = catalogue
    catalog = Catalog(settings.database)
    source = MetadataSource(catalog, interval=0.0)
    first = source.table()
    target = int(made["ids"][0])
    with catalog.transaction() as tx:
        tx.execute("UPDATE metadata SET season = '2030-SS' WHERE image_id = ?", (target,))
        tx.execute("UPDATE images SET removed_at = ? WHERE id = ?", (now_iso(), int(made["ids"][1])))
    table = source.table()
    assert table.generation == first.generation + 1
    mask = parse_filters({"season": "2030-SS"}).mask(table, source.cluster_labels)
    assert list(table.ids[mask]) == [target]
    assert table.position(int(made["ids"][1])) is None and len(table) == len(first) - 1
    with catalog.transaction() as tx:  # a commit that changes no image metadata keeps the table
        tx.execute("INSERT INTO jobs(id, kind, state, created_at, updated_at) VALUES ('j', 'x', 'done', '', '')")
    assert source.table() is table
    assert np.all(np.diff(table.ids) > 0)
