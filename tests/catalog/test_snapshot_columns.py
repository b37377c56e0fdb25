"""Tests for the snapshot's compact columns: records, path/file-name lookups and text search against plain Python."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from swatch.catalog import columns
from swatch.catalog.columns import Digests, Haystack, Strings, Suffixes
from swatch.catalog.db import Catalog
from swatch.catalog.images import NewImage
from swatch.catalog.snapshot import MetadataSource, MetadataTable, season_key, text_key
from swatch.config import Settings
from swatch.metadata import MetadataRecord
from swatch.testing.synthetic import textile_catalogue_rows

EDGE_ROWS: list[tuple[Any, ...]] = [
    (9001, "a.jpg", "a.jpg", None, None, None, None, None, None, None, None, None),
    (9002, "x/a.jpg", "a.jpg", "", 0, 10, "", "", "", "", "[]", ""),  # filename of 9001's path: path wins
    (9003, "Été/Ünïcödé 布料.jpg", "Ünïcödé 布料.jpg", "ab/ab.jpg", 5, None, "KM 7", "2", "AW22", "Harris Tweed",
     '[["wv", 60], ["co", 40.5]]', "c1"),
    (9004, "y/dup.png", "dup.png", None, 1, 2, "KM8", None, None, None, "not json", None),
    (9005, "z/dup.png", "dup.png", None, 1, 2, "KM8", None, None, None, '[["WV", 20], ["WV", 30]]', None),
    (9006, "Straße/\udcff.jpg", "\udcff.jpg", None, None, None, None, None, None, "Ünïcödé", "[[1, 2]]", None),
]


def reference_rows(raw: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """What the snapshot held as plain tuples before it went columnar."""
    def comp(text: str | None) -> tuple[tuple[str, float], ...]:
        try:
            return tuple((str(f).upper(), float(p)) for f, p in json.loads(text or "[]"))
        except (ValueError, TypeError):
            return ()
    return [(*r[:10], comp(r[10]), r[11]) for r in raw]


def reference_find(raw: list[tuple[Any, ...]], name: str) -> int | None:
    by_path = {r[1]: pos for pos, r in enumerate(raw)}
    by_filename = {r[2]: pos for pos, r in enumerate(raw)}
    return by_path.get(name, by_filename.get(name))


def reference_hits(raw: list[tuple[Any, ...]], words: tuple[str, ...]) -> list[int]:
    hay = [f"{r[1]}\n{r[6] or ''}\n{r[9] or ''}".casefold() for r in raw]
    return [pos for pos, h in enumerate(hay) if all(w in h for w in words)]


@pytest.fixture(scope="module")
def raw() -> list[tuple[Any, ...]]:
    return textile_catalogue_rows(3000, seed=3) + EDGE_ROWS


@pytest.fixture(scope="module")
def table(raw: list[tuple[Any, ...]]) -> MetadataTable:
    return MetadataTable.from_rows(raw, 1)


def test_records_match_the_plain_rows(raw: list[tuple[Any, ...]], table: MetadataTable) -> None:
    expected = reference_rows(raw)
    assert len(table) == len(raw) and table.rows == expected
    assert table.record(len(raw) - 4).composition == (("WV", 60.0), ("CO", 40.5))
    n = len(raw)
    edge = table.public(n - 5)
    assert (edge["thumbnail"], edge["width"], edge["height"], edge["design"], edge["cluster"]) == (None, 0, 10, "", "")
    assert table.public(n - 6)["design"] is None and table.record(n - 6).width is None
    assert table.record(n - 3).composition == ()  # unreadable JSON
    assert table.fibres["WV"][n - 2] == 30.0  # a fibre twice: the last share, as before
    assert table.has_composition.tolist() == [bool(r[10]) for r in expected]
    names = [str(r[1]).casefold() for r in raw]
    assert table.by_name.tolist() == sorted(range(len(raw)), key=names.__getitem__)


@pytest.mark.parametrize(("field", "place", "key"), [("season", 8, season_key), ("quality", 9, text_key),
                                                     ("design", 6, lambda v: " ".join(v.split()).upper())])
def test_filter_columns_match_the_plain_dicts(raw: list[tuple[Any, ...]], table: MetadataTable, field: str,
                                              place: int, key: Any) -> None:
    lookup: dict[str, int] = {}
    values: list[str] = []
    codes = []
    for r in [*raw, (0, "", "", None, None, None, " km  7 ", None, "aw 22", "HARRIS  tweed", None, None)]:
        if not r[place]:
            codes.append(-1)
            continue
        code = lookup.setdefault(key(r[place]), len(values))
        values += [r[place]] if code == len(values) else []
        codes.append(code)
    column = getattr(MetadataTable.from_rows([*raw, (0, "", "", None, None, None, " km  7 ", None, "aw 22",
                                                     "HARRIS  tweed", None, None)], 1), field)
    assert column.codes.tolist() == codes and list(column.values) == values and dict(column.lookup) == lookup
    assert "no such key" not in column.lookup and len(getattr(table, field).values) == len(values)


def test_lookups_by_path_then_file_name(raw: list[tuple[Any, ...]], table: MetadataTable) -> None:
    n = len(raw)
    assert table.find("a.jpg") == n - 6  # a path beats a newer image's file name
    assert table.find("x/a.jpg") == n - 5
    assert table.find("dup.png") == n - 2  # duplicate file names: the newest id
    assert table.find("Ünïcödé 布料.jpg") == n - 4 and table.find("Été/Ünïcödé 布料.jpg") == n - 4
    assert table.find("\udcff.jpg") == n - 1
    assert table.find("A.JPG") is None and table.find("") is None and table.find("nowhere.jpg") is None
    for r in raw[::97]:
        assert table.find(r[1]) == reference_find(raw, r[1]) and table.find(r[2]) == reference_find(raw, r[2])


@pytest.mark.parametrize("words", [("tweed",), ("km10042-",), ("harris", "dundee"), ("strasse",), ("ünïcödé",),
                                   ("布料",), ("jpgkm",), ("-4.jpg", "2022-aw"), ("",), ("zzz",)])
def test_text_search_matches_plain_substrings(raw: list[tuple[Any, ...]], table: MetadataTable,
                                              words: tuple[str, ...]) -> None:
    assert np.flatnonzero(table.matching(words)).tolist() == reference_hits(raw, words)


def test_a_word_never_spans_two_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = [(1, "p/one", "one", None, None, None, "KMA", None, None, "tail", None, None),
           (2, "head/two", "two", None, None, None, None, None, None, None, None, None)]
    table = MetadataTable.from_rows(raw, 1)
    assert table.matching(("tailhead",)).tolist() == [False, False]
    assert table.matching(("tail",)).tolist() == [True, False] and table.matching(("head",)).tolist() == [False, True]
    assert table.matching(("onekma",)).tolist() == [False, False]  # nor two fields of one row
    assert table.haystack.contains("one\nkma").tolist() == [True, False]  # a newline: checked row by row
    monkeypatch.setattr(columns, "_CHUNK", 3)  # a word straddling the search's chunks
    assert table.matching(("head/two",)).tolist() == [False, True]
    assert table.matching(("p/one", "kma")).tolist() == [True, False]


def test_columns_keep_none_apart_from_empty() -> None:
    values = ["b", None, "", "b", "é", None, "b", "b"]
    for coded in (False, True):
        col = Strings(values, coded=coded)
        assert list(col) == values and col[-1] == "b" and col[1:3] == [None, ""]
    assert Strings(values, coded=True).codes is not None and Strings(values).codes is None
    assert list(Strings([])) == [] and list(Haystack([])) == [] and Haystack([]).contains("x").tolist() == []
    hay = Haystack(["a", "", "ß"])
    assert list(hay) == ["a", "", "ß"] and hay.contains("").tolist() == [True, True, True]


def test_thumbnails_named_by_hash_kept_as_digests() -> None:
    raw = textile_catalogue_rows(50, seed=1)
    raw[3] = (*raw[3][:3], None, *raw[3][4:])
    table = MetadataTable.from_rows(raw, 1)
    assert isinstance(table.strings["thumbnail"], Digests) and table.rows == reference_rows(raw)
    assert isinstance(table.strings["filename"], Suffixes) and table.strings["filename"].rest.buf == b""
    upper = f"AB/AB{'C' * 62}.jpg"
    assert Digests.of([upper]) is None and Digests.of(["ab/ab.jpg"]) is None
    assert Digests.of([f"ab/ab{'x' * 62}.jpg"]) is None and Digests.of([f"ab/cd{'c' * 62}.jpg"]) is None
    assert list(Digests.of([None, f"ab/ab{'c' * 62}.jpg"]) or []) == [None, f"ab/ab{'c' * 62}.jpg"]


def test_source_replaces_the_table_only_when_rows_change(tmp_path: Path) -> None:
    cat = Catalog(Settings.from_env(data_dir=tmp_path).database)
    a, b = cat.add_images([NewImage("/d", "x/a.jpg", "ab" * 32, 1, 4, 3, "ab/t.jpg"),
                           NewImage("/d", "a.jpg", "cd" * 32, 1, 4, 3, None)])
    source = MetadataSource(cat, interval=0.0)
    first = source.table()
    assert first.find("a.jpg") == 1 and source.refresh() is first  # same rows: the same table
    cat.write_metadata({a: MetadataRecord(design="KM1", quality="Harris Tweed", composition=[("WV", 60.0)])})
    second = source.table()
    assert second is not first and second.generation == first.generation + 1
    assert second.record(0).design == "KM1" and second.matching(("tweed",)).tolist() == [True, False]
    assert second.public(0)["features"] == [["WV", 60.0]] and second.fingerprint != first.fingerprint
