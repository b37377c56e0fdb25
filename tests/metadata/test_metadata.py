"""Tests for swatch.metadata: file-name parsing, composition parsing, JSON/CSV import, record_for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swatch.metadata import (
    MetadataError,
    MetadataRecord,
    ParsedName,
    load_metadata_file,
    normalise_season,
    parse_composition,
    parse_filename,
    record_for,
)

DUNDEE = ParsedName("2022-AW", "Dundee Suit", "KM11554", "4")
OSCAR_22 = ParsedName("2022-SS", "Oscar Prestige", "KM13178", "2")

NAMES: list[tuple[str, ParsedName | None]] = [
    ("AW22 - DUNDEE SUIT - KM11554-4.jpg", DUNDEE),
    ("AW-22 - DUNDEE SUIT - KM11554-4.jpg", DUNDEE),
    ("AW 22 - DUNDEE SUIT - KM11554-4.JPG", DUNDEE),
    ("aw22 - dundee suit - km11554-4.jpg", DUNDEE),
    ("AW22  -   DUNDEE   SUIT  -  KM11554-4.jpg", DUNDEE),
    ("AW22 \u2013 DUNDEE SUIT \u2013 KM11554-4.jpg", DUNDEE),  # en dashes
    ("AW22 \u2014 DUNDEE\u00a0SUIT \u2014 KM11554-4.png", DUNDEE),  # em dashes, non-breaking space
    ("AW22_DUNDEE SUIT_KM11554-4.jpg", DUNDEE),
    ("AW22_DUNDEE_SUIT_KM11554_4.jpg", DUNDEE),
    ("AW22-DUNDEE SUIT-KM11554-4.jpg", DUNDEE),
    ("AW22 -DUNDEE SUIT- KM11554 - 4.jpg", DUNDEE),
    ("AW2022 - DUNDEE SUIT - KM11554-4.jpeg", DUNDEE),
    ("FW22 - Dundee Suit - KM11554-4.tif", DUNDEE),
    ("photos/2022/AW22 - DUNDEE SUIT - KM11554-4.jpg", DUNDEE),
    ("C:\\Scans\\AW22 - DUNDEE SUIT - KM11554-4.jpg", DUNDEE),
    ("AW22 - DUNDEE SUIT - KM11554-4 (1).jpg", DUNDEE),
    ("AW22 - DUNDEE SUIT - KM11554-4", DUNDEE),  # no extension
    ("22 SS - OSCAR PRESTIGE - KM13178-2.jpg", OSCAR_22),
    ("22SS - OSCAR PRESTIGE - KM13178-2.jpg", OSCAR_22),
    ("2022-SS - OSCAR PRESTIGE - KM13178-2.jpg", OSCAR_22),
    ("SU22 - OSCAR PRESTIGE - KM13178-2.jpg", OSCAR_22),
    ("SS2023 - OSCAR PRESTIGE - KM13178-12.jpg", ParsedName("2023-SS", "Oscar Prestige", "KM13178", "12")),
    ("2023 SS - OSCAR PRESTIGE - KM13178-1.jpg", ParsedName("2023-SS", "Oscar Prestige", "KM13178", "1")),
    ("AW22 - DUNDEE SUIT - KM11554.jpg", ParsedName("2022-AW", "Dundee Suit", "KM11554", None)),
    ("AW22 - DUNDEE SUIT - KM11554-4B.jpg", ParsedName("2022-AW", "Dundee Suit", "KM11554", "4B")),
    ("SS23 - LINEN 2 PLY - AB1234X-3.jpg", ParsedName("2023-SS", "Linen 2 Ply", "AB1234X", "3")),
    ("SS23 - LINEN - ab1234x.jpg", ParsedName("2023-SS", "Linen", "AB1234X", None)),
    ("FW21 - MEN'S TWEED - KM10001-1.jpg", ParsedName("2021-AW", "Men's Tweed", "KM10001", "1")),
    ("SU24 - SUPER 120S - KM20000-7.tif", ParsedName("2024-SS", "Super 120s", "KM20000", "7")),
    ("AW22-DUNDEE-KM11554-4.jpg", ParsedName("2022-AW", "Dundee", "KM11554", "4")),
    ("AW22 - KM11554-4.jpg", ParsedName("2022-AW", None, "KM11554", "4")),
    ("AW22 - AB12 - KM11554-4.jpg", ParsedName("2022-AW", "Ab12", "KM11554", "4")),
    # names that do not follow the convention
    ("IMG_0001.jpg", None),
    (".jpg", None),
    ("random.png", None),
    ("", None),
    ("AW22.jpg", None),  # no design
    ("AW22 - DUNDEE SUIT.jpg", None),  # no design
    ("AW22 - DUNDEE SUIT - 4.jpg", None),  # colourway without design
    ("KM11554-4.jpg", None),  # no season
    ("DUNDEE SUIT - KM11554-4.jpg", None),  # no season
    ("XX22 - DUNDEE SUIT - KM11554-4.jpg", None),  # unknown season code
    ("AW225 - DUNDEE SUIT - KM11554-4.jpg", None),  # year is neither 2 nor 4 digits
    ("SUPER22 - DUNDEE - KM11554.jpg", None),
    ("photos/AW22 - DUNDEE SUIT - KM11554-4.jpg/", None),  # a directory, no base name
]


@pytest.mark.parametrize(("name", "expected"), NAMES, ids=[repr(n) for n, _ in NAMES])
def test_parse_filename(name: str, expected: ParsedName | None) -> None:
    assert parse_filename(name) == expected


def test_parse_filename_accepts_paths_and_never_raises() -> None:
    assert parse_filename(Path("cat") / "AW22 - DUNDEE SUIT - KM11554-4.jpg") == DUNDEE
    assert parse_filename(None) is None  # type: ignore[arg-type]
    assert parse_filename(12345) is None  # type: ignore[arg-type]
    assert parse_filename("AW22 - \x00\ud800 - KM11-1.jpg") == ParsedName(
        "2022-AW", "\x00\ud800", "KM11", "1"
    )
    assert parse_filename("AW22 - \x00\ud800 - KM1-1.jpg") is None  # design code too short


def test_parsed_name_is_frozen() -> None:
    with pytest.raises(AttributeError):
        DUNDEE.season = "2023-SS"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("AW22", "2022-AW"),
        ("aw-22", "2022-AW"),
        ("FW 2021", "2021-AW"),
        ("22 SS", "2022-SS"),
        ("SS2023", "2023-SS"),
        ("2022-SS", "2022-SS"),
        ("2023_su", "2023-SS"),
        ("Spring 2022", None),
        ("AW", None),
        ("", None),
    ],
)
def test_normalise_season(value: str, expected: str | None) -> None:
    assert normalise_season(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("", []),
        ([], []),
        ("WV 60; PES 40", [("WV", 60.0), ("PES", 40.0)]),
        ("60% WV, 40% PES", [("WV", 60.0), ("PES", 40.0)]),
        ("60 % wv / 40 % pes", [("WV", 60.0), ("PES", 40.0)]),
        ("wv:60 | pes:40", [("WV", 60.0), ("PES", 40.0)]),
        ('[["WV", 60], ["PES", 40]]', [("WV", 60.0), ("PES", 40.0)]),
        ([["wv", "60"], ["PES", "40%"]], [("WV", 60.0), ("PES", 40.0)]),
        ((("CO", 97.5), ("EL", 2.5)), [("CO", 97.5), ("EL", 2.5)]),
        (["WV 60", "PES 40"], [("WV", 60.0), ("PES", 40.0)]),
        ({"wv": 100}, [("WV", 100.0)]),
        ("60,5% WV; 39,5% PES", [("WV", 60.5), ("PES", 39.5)]),
        ("33% WV, 33% PES, 34.5% CO", [("WV", 33.0), ("PES", 33.0), ("CO", 34.5)]),  # rounding tolerated
        ("100% cotton", [("COTTON", 100.0)]),
    ],
)
def test_parse_composition(value: object, expected: list[tuple[str, float]]) -> None:
    result = parse_composition(value)
    assert result == expected
    assert all(isinstance(p, float) for _, p in result)


@pytest.mark.parametrize(
    "value",
    [
        "wool",
        "60 40",
        ";",
        "WV 60; PES 60",  # adds up to 120 %
        "WV 160",
        "WV -5",
        '[["WV", 60]',  # broken JSON
        [["WV"]],
        [["WV", 60, 1]],
        [[60, "WV"]],
        [["WV", True]],
        [["WV", float("nan")]],
        [["", 50]],
        [{"fibre": "WV"}],
        42,
        {"WV": "lots"},
    ],
)
def test_parse_composition_rejects_garbage(value: object) -> None:
    with pytest.raises(MetadataError):
        parse_composition(value)


def test_metadata_error_is_value_error() -> None:
    assert issubclass(MetadataError, ValueError)


# ----- JSON -------------------------------------------------------------------------------------------------


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_load_json_existing_schema(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "image_metadata_map.json",
        {
            "SS22 - OSCAR PRESTIGE - KM13178-2.jpg": {
                "design": "KM13178",
                "season": "2022-SS",
                "quality": "Oscar Prestige",
                "features": [["WV", 60], ["PES", 40]],
                "cluster": "cluster_5",
            },
            "scans/AW22 - DUNDEE SUIT - KM11554-4.jpg": {
                "design": "km11554",
                "season": "AW22",
                "quality": "Dundee  Suit",
                "features": [["wv", "70%"], ["pa", "30"]],
                "colourway": 4,
                "supplier": "Mill A",
                "price": 12.5,
                "tags": ["check", "wool"],
            },
            "bare.jpg": {},
        },
    )
    records = load_metadata_file(path)
    assert set(records) == {
        "SS22 - OSCAR PRESTIGE - KM13178-2.jpg",
        "AW22 - DUNDEE SUIT - KM11554-4.jpg",
        "bare.jpg",
    }

    oscar = records["SS22 - OSCAR PRESTIGE - KM13178-2.jpg"]
    assert oscar == MetadataRecord(
        design="KM13178",
        season="2022-SS",
        quality="Oscar Prestige",
        colourway=None,
        composition=[("WV", 60.0), ("PES", 40.0)],
        cluster="cluster_5",
        extras={},
    )

    dundee = records["AW22 - DUNDEE SUIT - KM11554-4.jpg"]
    assert dundee.design == "KM11554"
    assert dundee.season == "2022-AW"
    assert dundee.quality == "Dundee Suit"
    assert dundee.colourway == "4"
    assert dundee.composition == [("WV", 70.0), ("PA", 30.0)]
    assert dundee.cluster is None
    assert dundee.extras == {"supplier": "Mill A", "price": 12.5, "tags": ["check", "wool"]}

    assert records["bare.jpg"] == MetadataRecord()


def test_load_json_accepts_bom_and_path_as_str(tmp_path: Path) -> None:
    path = tmp_path / "meta.JSON"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"a.jpg": {"design": "KM1"}}).encode())
    assert load_metadata_file(str(path))["a.jpg"].design == "KM1"


def test_unrecognised_season_is_kept_as_written(tmp_path: Path) -> None:
    path = write_json(tmp_path / "m.json", {"a.jpg": {"season": "Continuity"}})
    assert load_metadata_file(path)["a.jpg"].season == "Continuity"


def test_record_json_round_trip() -> None:
    record = MetadataRecord(
        design="KM13178",
        season="2022-SS",
        quality="Oscar Prestige",
        colourway="2",
        composition=[("WV", 60.0), ("PES", 39.5)],
        cluster="cluster_5",
        extras={"supplier": "Mill A"},
    )
    data = record.to_json()
    assert data == {
        "design": "KM13178",
        "season": "2022-SS",
        "quality": "Oscar Prestige",
        "colourway": "2",
        "features": [["WV", 60], ["PES", 39.5]],
        "cluster": "cluster_5",
        "supplier": "Mill A",
    }
    assert json.loads(json.dumps(data)) == data
    assert MetadataRecord.from_json(data) == record
    assert MetadataRecord().to_json() == {}


def assert_error(path: Path, *fragments: str) -> str:
    with pytest.raises(MetadataError) as info:
        load_metadata_file(path)
    message = str(info.value)
    assert path.name in message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    return message


def test_malformed_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"a.jpg": {"design": "KM1",}}', encoding="utf-8")
    assert_error(path, "malformed JSON", "line 1")


def test_json_top_level_must_be_object(tmp_path: Path) -> None:
    path = write_json(tmp_path / "list.json", [{"file": "a.jpg"}])
    assert_error(path, "top level", "list")


def test_json_entry_must_be_object(tmp_path: Path) -> None:
    path = write_json(tmp_path / "entry.json", {"good.jpg": {}, "odd.jpg": ["KM1"]})
    assert_error(path, "odd.jpg", "expected an object")


def test_json_bad_composition_names_entry(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "comp.json", {"a.jpg": {"features": [["WV", 60]]}, "b.jpg": {"features": [["WV"]]}}
    )
    assert_error(path, "b.jpg", "features")


def test_json_field_of_wrong_type(tmp_path: Path) -> None:
    path = write_json(tmp_path / "types.json", {"a.jpg": {"design": {"code": "KM1"}}})
    assert_error(path, "a.jpg", "design")


def test_json_conflicting_base_names(tmp_path: Path) -> None:
    same = write_json(tmp_path / "same.json", {"x/a.jpg": {"design": "KM1"}, "y/a.jpg": {"design": "KM1"}})
    assert list(load_metadata_file(same)) == ["a.jpg"]
    clash = write_json(tmp_path / "clash.json", {"x/a.jpg": {"design": "KM1"}, "y/a.jpg": {"design": "KM2"}})
    assert_error(clash, "y/a.jpg")


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "meta.txt"
    path.write_text("{}", encoding="utf-8")
    assert_error(path, ".txt", ".json or .csv")
    bare = tmp_path / "metadata"
    bare.write_text("{}", encoding="utf-8")
    assert_error(bare, "no extension")


def test_missing_file(tmp_path: Path) -> None:
    assert_error(tmp_path / "absent.json", "cannot read")


def test_size_cap(tmp_path: Path) -> None:
    path = write_json(tmp_path / "big.json", {f"img{i}.jpg": {"design": f"KM{i:05d}"} for i in range(200)})
    assert len(load_metadata_file(path, max_bytes=1_000_000)) == 200
    with pytest.raises(MetadataError, match=r"big\.json.*over the .* MB limit"):
        load_metadata_file(path, max_bytes=1000)


# ----- CSV --------------------------------------------------------------------------------------------------


def write_csv(path: Path, text: str, *, bom: bool = True) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def test_load_csv_with_bom_and_composition_column(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "meta.csv",
        "File Name,Design,Season,Quality,Colourway,Composition,Cluster,Supplier\r\n"
        'dir/AW22 - DUNDEE SUIT - KM11554-4.jpg,KM11554,AW-22,Dundee Suit,4,"WV 60; PES 40",cluster_1,Mill A\r\n'
        '"b.jpg",km2,22 ss,"Oscar, Prestige",,"60% WV, 40% PES",,\r\n'
        ",,,,,,,\r\n"
        'c.jpg,,,,,"[[""CO"", 100]]",,\r\n',
    )
    records = load_metadata_file(path)
    assert list(records) == ["AW22 - DUNDEE SUIT - KM11554-4.jpg", "b.jpg", "c.jpg"]
    assert records["AW22 - DUNDEE SUIT - KM11554-4.jpg"] == MetadataRecord(
        design="KM11554",
        season="2022-AW",
        quality="Dundee Suit",
        colourway="4",
        composition=[("WV", 60.0), ("PES", 40.0)],
        cluster="cluster_1",
        extras={"Supplier": "Mill A"},
    )
    b = records["b.jpg"]
    assert (b.design, b.season, b.quality, b.colourway, b.cluster) == (
        "KM2",
        "2022-SS",
        "Oscar, Prestige",
        None,
        None,
    )
    assert b.composition == [("WV", 60.0), ("PES", 40.0)]
    assert b.extras == {}
    assert records["c.jpg"].composition == [("CO", 100.0)]


def test_load_csv_with_fibre_columns_and_semicolons(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "excel.csv",
        "filename;design;fiber_WV;fibre_pes;Fiber_EL;notes\n"
        "a.jpg;KM1;60;40%;;soft\n"
        "b.jpg;KM2;;97;3;\n"
        "c.jpg;KM3;;;;\n",
    )
    records = load_metadata_file(path)
    assert records["a.jpg"].composition == [("WV", 60.0), ("PES", 40.0)]
    assert records["a.jpg"].extras == {"notes": "soft"}
    assert records["b.jpg"].composition == [("PES", 97.0), ("EL", 3.0)]
    assert records["c.jpg"].composition == []
    assert records["c.jpg"].design == "KM3"


def test_load_csv_without_bom_in_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_bytes("file,quality\na.jpg,Cr\u00eape de Chine\n".encode("cp1252"))
    assert load_metadata_file(path)["a.jpg"].quality == "Cr\u00eape de Chine"


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("", ("header",)),
        ("design,season\nKM1,AW22\n", ("no 'file'",)),
        ("file,composition\na.jpg,WV 60\nb.jpg,lots of wool\n", ("line 3", "b.jpg", "composition")),
        ("file,fiber_WV\na.jpg,sixty\n", ("line 2", "a.jpg")),
        ("file,composition,fiber_WV\na.jpg,WV 60,60\n", ("a.jpg", "both")),
        ("file,design\n,KM1\n", ("line 2", "empty file name")),
        ("file,design\na.jpg,KM1,extra\n", ("line 2", "3 cells")),
        ("file,filename\na.jpg,a.jpg\n", ("same",)),
        ('file,design\n"a.jpg,KM1\n', ("malformed CSV",)),
        ("file,design\nx/a.jpg,KM1\ny/a.jpg,KM2\n", ("line 3", "earlier")),
    ],
)
def test_csv_errors(tmp_path: Path, text: str, fragments: tuple[str, ...]) -> None:
    assert_error(write_csv(tmp_path / "bad.csv", text, bom=False), *fragments)


# ----- record_for -------------------------------------------------------------------------------------------


def test_record_for_fills_gaps_from_the_name() -> None:
    records = {
        "AW22 - DUNDEE SUIT - KM11554-4.jpg": MetadataRecord(
            quality="Dundee Suit Premium", composition=[("WV", 100.0)], cluster="cluster_2", extras={"x": 1}
        )
    }
    record = record_for("some/dir/AW22 - DUNDEE SUIT - KM11554-4.jpg", records)
    assert record == MetadataRecord(
        design="KM11554",
        season="2022-AW",
        quality="Dundee Suit Premium",  # the file wins over the name
        colourway="4",
        composition=[("WV", 100.0)],
        cluster="cluster_2",
        extras={"x": 1},
    )
    record.composition.append(("PES", 0.0))
    record.extras["y"] = 2
    stored = records["AW22 - DUNDEE SUIT - KM11554-4.jpg"]
    assert stored.design is None
    assert stored.composition == [("WV", 100.0)]
    assert stored.extras == {"x": 1}


def test_record_for_matches_case_insensitively() -> None:
    records = {"AW22 - Dundee Suit - KM11554-4.JPG": MetadataRecord(design="KM99999", cluster="c")}
    record = record_for("aw22 - dundee suit - km11554-4.jpg", records)
    assert record.cluster == "c"
    assert record.design == "KM99999"
    assert record.season == "2022-AW"
    assert record.colourway is None  # the name's colourway belongs to another design
    records["other.jpg"] = MetadataRecord(cluster="d")  # the case-insensitive index follows changes
    assert record_for("OTHER.JPG", records).cluster == "d"


def test_record_for_falls_back_to_the_name() -> None:
    records = {"a.jpg": MetadataRecord(design="KM1")}
    assert record_for("SS2023 - OSCAR PRESTIGE - KM13178-12.jpg", records) == MetadataRecord(
        design="KM13178", season="2023-SS", quality="Oscar Prestige", colourway="12"
    )
    assert record_for("IMG_0001.jpg", records) == MetadataRecord()
    assert record_for("IMG_0001.jpg", {}) == MetadataRecord()


def test_record_for_with_loaded_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "m.csv", "file,composition\nAW22 - DUNDEE SUIT - KM11554-4.jpg,WV 100\n")
    record = record_for("AW22 - DUNDEE SUIT - KM11554-4.jpg", load_metadata_file(path))
    assert record == MetadataRecord(
        design="KM11554", season="2022-AW", quality="Dundee Suit", colourway="4", composition=[("WV", 100.0)]
    )
