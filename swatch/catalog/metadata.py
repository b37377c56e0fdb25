"""Design metadata: parse house-convention file names and import JSON/CSV metadata files."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_METADATA_BYTES",
    "MetadataError",
    "MetadataRecord",
    "ParsedName",
    "load_metadata_file",
    "normalise_season",
    "parse_composition",
    "parse_filename",
    "record_for",
]

MAX_METADATA_BYTES = 200 * 1024 * 1024
"""Metadata files larger than this are refused (a catalogue of millions of entries is well under it)."""


class MetadataError(ValueError):
    """A metadata file or value that cannot be used; the message is one line and names the file and entry."""


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


# ---------------------------------------------------------------------------------------------------------
# File names
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedName:
    """What a file name following `SEASON - QUALITY - DESIGN-COLOURWAY.ext` says about the design."""

    season: str | None
    quality: str | None
    design: str | None
    colourway: str | None


_SEASON_CODES = {"AW": "AW", "FW": "AW", "SS": "SS", "SU": "SS"}
_CODE = r"AW|FW|SS|SU"
_YEAR = r"(?:19|20)\d{2}|\d{2}"
# Season code and year in either order, optionally separated by spaces/dashes: AW22, AW-22, 22 SS, SS2023, 2022-SS.
_SEASON_CORE = (
    rf"(?:(?P<code1>{_CODE})[ \-]*(?P<year1>{_YEAR})|(?P<year2>{_YEAR})[ \-]*(?P<code2>{_CODE}))(?![A-Z0-9])"
)
_SEASON_PREFIX_RE = re.compile(rf"^{_SEASON_CORE}", re.IGNORECASE | re.ASCII)
_SEASON_FULL_RE = re.compile(rf"^{_SEASON_CORE}$", re.IGNORECASE | re.ASCII)

_DESIGN = r"[A-Z]{1,6}\d{2,}[A-Z]{0,3}"  # KM11554, AB1234X
_COLOURWAY = r"\d{1,3}[A-Z]{0,2}|[A-Z]{1,2}"  # 4, 12, 4B, B
_WITH_COLOURWAY_RE = re.compile(
    rf"^(?P<quality>.*?)[ \-]*(?<![A-Z0-9])(?P<design>{_DESIGN})(?: ?- ?| )(?P<colourway>{_COLOURWAY})$",
    re.IGNORECASE | re.ASCII,
)
_DESIGN_ONLY_RE = re.compile(
    rf"^(?P<quality>.*?)[ \-]*(?<![A-Z0-9])(?P<design>{_DESIGN})$", re.IGNORECASE | re.ASCII
)
_DASHES_RE = re.compile("[\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d]")
_DUPLICATE_SUFFIX_RE = re.compile(r" ?\(\d{1,3}\)$")  # "name (1).jpg", as saved by browsers and Windows


def _season_from_match(m: re.Match[str]) -> str:
    code = (m.group("code1") or m.group("code2")).upper()
    year = m.group("year1") or m.group("year2")
    if len(year) == 2:
        year = "20" + year
    return f"{year}-{_SEASON_CODES[code]}"


def normalise_season(value: str) -> str | None:
    """`AW22`, `aw-22`, `22 SS`, `SS2023`, `2022-SS`, `FW 21` -> `YYYY-AW|SS`; None when not recognisable."""
    text = _DASHES_RE.sub("-", " ".join(str(value).replace("_", " ").split()))
    m = _SEASON_FULL_RE.match(text)
    return _season_from_match(m) if m else None


def _base_name(name: str) -> str:
    """The last path component, for both / and \\ separators."""
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def _title(text: str) -> str:
    """Title case per word and hyphen part, leaving the rest lower: `MEN'S SUPER 120S` -> `Men's Super 120s`."""
    words = []
    for word in text.split():
        words.append("-".join(part[:1].upper() + part[1:].lower() for part in word.split("-")))
    return " ".join(words)


def parse_filename(name: str | os.PathLike[str]) -> ParsedName | None:
    """Parse `SEASON - QUALITY - DESIGN-COLOURWAY.ext` (directory parts ignored); None when it does not fit.

    Accepted: season as `AW22`, `AW-22`, `AW 22`, `22 SS`, `22SS`, `SS2023`, `2023 SS`, `2022-SS` in any case
    (AW/FW -> AW, SS/SU -> SS, two-digit years -> 20YY); spaces, dashes (incl. en/em dashes) and underscores
    as separators, with or without spaces around them; the quality may be missing (`AW22 - KM11554-4.jpg`);
    the colourway may be missing (`... - KM11554.jpg`), carry letters (`KM11554-4B`) or follow the design after
    a space or underscore (`AW22_DUNDEE_SUIT_KM11554_4.jpg`); a trailing browser
    duplicate marker such as ` (1)` is ignored. A season and a design code (letters then digits, e.g.
    `KM11554`, `AB1234X`) are both required: anything else (`IMG_0001.jpg`, `random.png`) gives None.
    Never raises.
    """
    try:
        text = os.fspath(name)
        if not isinstance(text, str):
            return None
        base = _base_name(text)
        dot = base.rfind(".")
        stem = base[:dot] if dot > 0 else base
        stem = unicodedata.normalize("NFC", stem)
        stem = _DASHES_RE.sub("-", stem.replace("_", " "))
        stem = " ".join(stem.split())
        stem = _DUPLICATE_SUFFIX_RE.sub("", stem)

        season_match = _SEASON_PREFIX_RE.match(stem)
        if season_match is None:
            return None
        season = _season_from_match(season_match)
        rest = stem[season_match.end() :].lstrip(" -")

        colourway: str | None = None
        m = _WITH_COLOURWAY_RE.match(rest)
        if m is not None:
            colourway = m.group("colourway").upper()
        else:
            m = _DESIGN_ONLY_RE.match(rest)
            if m is None:
                return None
        design = m.group("design").upper()
        quality = _title(m.group("quality").strip(" -")) or None
        return ParsedName(season=season, quality=quality, design=design, colourway=colourway)
    except Exception:  # a parser of user-supplied names must never take the caller down
        return None


# ---------------------------------------------------------------------------------------------------------
# Composition
# ---------------------------------------------------------------------------------------------------------

_NUMBER = r"\d+(?:[.,]\d+)?"
_FIBRE = r"[A-Za-z][A-Za-z .'-]*?"
_PCT_FIRST_RE = re.compile(rf"^(?P<pct>{_NUMBER})\s*%?\s*(?P<fibre>{_FIBRE})$")
_FIBRE_FIRST_RE = re.compile(rf"^(?P<fibre>{_FIBRE})\s*[:=]?\s*(?P<pct>{_NUMBER})\s*%?$")
_PERCENT_RE = re.compile(rf"^(?P<pct>{_NUMBER})\s*%?$")
# Parts are split on ; | + / and on commas that are not decimal commas (a digit on both sides: "60,5% WV").
_COMPOSITION_SPLIT_RE = re.compile(r"[;|+/]|(?<!\d),|,(?!\d)")
_COMPOSITION_TOLERANCE = 1.0  # rounding in real catalogues: 33 + 33 + 34.5 is fine, 60 + 60 is not


def _fibre_code(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MetadataError(f"fibre must be a non-empty text code, got {value!r}")
    code = " ".join(value.split()).upper()
    if not re.fullmatch(r"[A-Z](?:[A-Z .'-]*[A-Z.])?", code):
        raise MetadataError(f"fibre code {value!r} is not a fibre name")
    return code


def _percent(value: object) -> float:
    if isinstance(value, bool):
        raise MetadataError(f"percentage must be a number, got {value!r}")
    if isinstance(value, int | float):
        pct = float(value)
    elif isinstance(value, str):
        m = _PERCENT_RE.match(value.strip())
        if m is None:
            raise MetadataError(f"percentage {value!r} is not a number")
        pct = float(m.group("pct").replace(",", "."))
    else:
        raise MetadataError(f"percentage must be a number, got {value!r}")
    if not math.isfinite(pct) or not 0.0 <= pct <= 100.0:
        raise MetadataError(f"percentage {value!r} is outside 0..100")
    return pct


def _parse_part(part: str) -> tuple[str, float]:
    m = _PCT_FIRST_RE.match(part) or _FIBRE_FIRST_RE.match(part)
    if m is None:
        raise MetadataError(f"composition part {part!r} is not 'FIBRE PERCENT' or 'PERCENT% FIBRE'")
    return _fibre_code(m.group("fibre")), _percent(m.group("pct"))


def parse_composition(value: object) -> list[tuple[str, float]]:
    """Fibre composition as `[(FIBRE, percent), ...]` from any of the forms found in metadata files.

    Accepted: None or "" (no composition); a list of `[fibre, percent]` pairs or `"FIBRE PERCENT"` strings;
    a mapping `{fibre: percent}`; a JSON list in a string (`[["WV",60],["PES",40]]`); text such as
    `WV 60; PES 40`, `60% WV, 40% PES` or `WV:60 | PES:40` (parts split on `;`, `,`, `|`, `+` or `/`; `60,5` is a decimal comma).
    Fibre codes are upper-cased; percentages are floats in 0..100 (`60`, `"60"`, `"60%"`, `"60.5"`) whose sum
    may not exceed 100 (plus one point for rounding). Anything else raises `MetadataError`.
    """
    items: list[tuple[str, float]] = []
    if value is None:
        return items
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return items
        if text.startswith("["):
            try:
                decoded = json.loads(text)
            except ValueError as exc:
                raise MetadataError(f"composition {text!r} is not valid JSON: {exc.args[0]}") from None
            return parse_composition(decoded)
        parts = [p.strip() for p in _COMPOSITION_SPLIT_RE.split(text) if p.strip()]
        if not parts:
            raise MetadataError(f"composition {text!r} has no fibres")
        items = [_parse_part(p) for p in parts]
    elif isinstance(value, Mapping):
        items = [(_fibre_code(k), _percent(v)) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        for entry in value:
            if isinstance(entry, str):
                items.append(_parse_part(" ".join(entry.split())))
            elif isinstance(entry, list | tuple) and len(entry) == 2:
                items.append((_fibre_code(entry[0]), _percent(entry[1])))
            else:
                raise MetadataError(f"composition entry {entry!r} is not a [fibre, percent] pair")
    else:
        raise MetadataError(f"composition must be a list or text, got {type(value).__name__}")
    total = sum(p for _, p in items)
    if total > 100.0 + _COMPOSITION_TOLERANCE:
        raise MetadataError(f"composition {_composition_text(items)} adds up to {total:g}%, more than 100%")
    return items


def _composition_text(items: list[tuple[str, float]]) -> str:
    return "; ".join(f"{f} {p:g}" for f, p in items)


# ---------------------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------------------

_TEXT_FIELDS = ("design", "season", "quality", "colourway", "cluster")
_COMPOSITION_KEYS = ("features", "composition")


def _text(value: object, key: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MetadataError(f"{key!r} must be text, got {type(value).__name__}")
    text = " ".join(str(value).split())
    return text or None


@dataclass
class MetadataRecord:
    """Metadata for one catalogue image; `composition` is `[(FIBRE, percent)]`, unknown keys live in `extras`."""

    design: str | None = None
    season: str | None = None
    quality: str | None = None
    colourway: str | None = None
    composition: list[tuple[str, float]] = field(default_factory=list)
    cluster: str | None = None
    extras: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The entry in the `image_metadata_map.json` schema (`features` holds the composition)."""
        out: dict[str, Any] = dict(self.extras)
        for key in ("design", "season", "quality", "colourway"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.composition:
            out["features"] = [[f, int(p) if float(p).is_integer() else p] for f, p in self.composition]
        if self.cluster is not None:
            out["cluster"] = self.cluster
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MetadataRecord:
        """Build from one entry of the JSON schema; raises `MetadataError` (without the file name) when invalid.

        Season values are normalised (`AW22` -> `2022-AW`; a value that is no recognisable season is kept as
        written), design and colourway upper-cased, whitespace collapsed; `features` (or `composition`) goes
        through `parse_composition`; every other key is kept in `extras`.
        """
        if not isinstance(data, Mapping):
            raise MetadataError(f"expected an object, got {type(data).__name__}")
        values: dict[str, str | None] = {}
        for key in _TEXT_FIELDS:
            values[key] = _text(data.get(key), key)
        comp_key = next((k for k in _COMPOSITION_KEYS if data.get(k) not in (None, "", [])), None)
        try:
            composition = parse_composition(data.get(comp_key)) if comp_key else []
        except MetadataError as exc:
            raise MetadataError(f"bad {comp_key!r}: {exc}") from None
        known = {*_TEXT_FIELDS, *_COMPOSITION_KEYS}
        extras = {str(k): v for k, v in data.items() if k not in known}
        return cls._normalised(values, composition, extras)

    @classmethod
    def _normalised(
        cls, values: Mapping[str, str | None], composition: list[tuple[str, float]], extras: dict[str, object]
    ) -> MetadataRecord:
        season = values.get("season")
        design = values.get("design")
        colourway = values.get("colourway")
        return cls(
            design=design.upper() if design else None,
            season=(normalise_season(season) or season) if season else None,
            quality=values.get("quality"),
            colourway=colourway.upper() if colourway else None,
            composition=composition,
            cluster=values.get("cluster"),
            extras=extras,
        )


# ---------------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------------


def load_metadata_file(path: Path | str, *, max_bytes: int = MAX_METADATA_BYTES) -> dict[str, MetadataRecord]:
    """Read a metadata file into `{base file name: MetadataRecord}`; the format follows the extension.

    `.json` — the `image_metadata_map.json` schema: an object keyed by file name, each value an object with
    optional `design`, `season`, `quality`, `colourway`, `cluster` and `features` (`[[fibre, percent], ...]`);
    other keys go to `extras`.

    `.csv` — UTF-8 (a BOM is fine; cp1252 from older Excel is accepted when the text is not UTF-8), delimiter
    `,`, `;` or tab (whichever the header row uses most). A header row is required with a `file` or `filename`
    column; optional `design`, `season`, `quality`, `colourway` (or `colorway`), `cluster` (header case and
    spacing ignored). The composition is either one `composition` (or `features`) column in any form
    `parse_composition` takes (`WV 60; PES 40`, `60% WV, 40% PES`, `[["WV",60],["PES",40]]`), or one column
    per fibre named `fiber_<CODE>` / `fibre_<CODE>` holding the percentage (empty cells skipped); a row may
    not use both. Non-empty cells of all other columns go to `extras` as text under their header. Blank
    rows are skipped.

    Keys are reduced to their base name. Raises `MetadataError` (one line, naming the file and the entry) on
    an unknown extension, a missing or unreadable file, one over `max_bytes`, malformed content, an entry
    that is not an object, a bad composition, or two entries for the same base name that disagree.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        shown = suffix or "no extension"
        raise MetadataError(f"{path}: unsupported metadata file type ({shown}); use .json or .csv")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise MetadataError(
                f"{path}: metadata file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit"
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise MetadataError(f"{path}: cannot read metadata file: {_one_line(exc.strerror or exc)}") from None
    if len(raw) > max_bytes:  # the file grew between stat and read
        raise MetadataError(f"{path}: metadata file is over the {max_bytes / 1e6:.1f} MB limit")
    if suffix == ".json":
        return _load_json(path, raw)
    return _load_csv(path, raw)


def _add(
    records: dict[str, MetadataRecord], path: Path, key: str, record: MetadataRecord, where: str
) -> None:
    base = _base_name(key).strip()
    if not base:
        raise MetadataError(f"{path}: {where}: empty file name")
    previous = records.get(base)
    if previous is not None and previous != record:
        raise MetadataError(f"{path}: {where}: a different entry for {base!r} appears earlier in the file")
    records[base] = record


def _load_json(path: Path, raw: bytes) -> dict[str, MetadataRecord]:
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise MetadataError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise MetadataError(
            f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {_one_line(exc.msg)}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise MetadataError(f"{path}: malformed JSON: {_one_line(exc)}") from None
    if not isinstance(data, dict):
        raise MetadataError(
            f"{path}: top level must be an object keyed by file name, got {type(data).__name__}"
        )
    records: dict[str, MetadataRecord] = {}
    for key, entry in data.items():
        where = f"entry {_one_line(key)!r}"
        if not isinstance(entry, dict):
            raise MetadataError(f"{path}: {where}: expected an object, got {type(entry).__name__}")
        try:
            record = MetadataRecord.from_json(entry)
        except MetadataError as exc:
            raise MetadataError(f"{path}: {where}: {_one_line(exc)}") from None
        _add(records, path, key, record, where)
    return records


_CSV_ALIASES = {
    "file": "file",
    "filename": "file",
    "file_name": "file",
    "design": "design",
    "season": "season",
    "quality": "quality",
    "colourway": "colourway",
    "colorway": "colourway",
    "cluster": "cluster",
    "composition": "composition",
    "features": "composition",
}
_FIBRE_COLUMN_RE = re.compile(r"^fib(?:er|re)_(?P<code>.+)$", re.IGNORECASE)


def _header_key(name: str) -> str:
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def _load_csv(path: Path, raw: bytes) -> dict[str, MetadataRecord]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise MetadataError(f"{path}: not UTF-8 or cp1252 text (byte {exc.start})") from None
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
        if header is None:
            raise MetadataError(f"{path}: empty CSV file; a header row with a 'file' column is required")
        names = [cell.strip() for cell in header]
        roles: list[tuple[str, str]] = []  # (role, detail) per column
        seen: dict[str, str] = {}
        for name in names:
            key = _header_key(name)
            fibre = _FIBRE_COLUMN_RE.match(key)
            if key in _CSV_ALIASES:
                role, detail = _CSV_ALIASES[key], ""
            elif fibre:
                role, detail = "fibre", _fibre_code(fibre.group("code").replace("_", " "))
            else:
                role, detail = "extra", name
            if not name:
                role, detail = "ignored", ""
            tag = f"{role}:{detail}"
            if role != "ignored":
                if tag in seen:
                    raise MetadataError(f"{path}: header: columns {seen[tag]!r} and {name!r} mean the same")
                seen[tag] = name
            roles.append((role, detail))
        if "file:" not in seen:
            found = ", ".join(repr(n) for n in names if n) or "none"
            raise MetadataError(f"{path}: header: no 'file' or 'filename' column (columns: {found})")

        records: dict[str, MetadataRecord] = {}
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(roles) and any(cell.strip() for cell in row[len(roles) :]):
                raise MetadataError(f"{path}: line {line}: {len(row)} cells for {len(roles)} columns")
            values: dict[str, str | None] = {}
            fibres: list[tuple[str, object]] = []
            extras: dict[str, object] = {}
            composition_text: str | None = None
            for (role, detail), cell in zip(roles, row, strict=False):
                cell = " ".join(cell.split())
                if not cell or role == "ignored":
                    continue
                if role == "fibre":
                    fibres.append((detail, cell))
                elif role == "composition":
                    composition_text = cell
                elif role == "extra":
                    extras[detail] = cell
                else:
                    values[role] = cell
            file_name = values.pop("file", None)
            where = f"line {line}" + (f" ({file_name!r})" if file_name else "")
            if not file_name:
                raise MetadataError(f"{path}: {where}: empty file name")
            if composition_text and fibres:
                raise MetadataError(
                    f"{path}: {where}: both a composition column and fiber_ columns are filled"
                )
            try:
                composition = parse_composition(composition_text or fibres)
            except MetadataError as exc:
                raise MetadataError(f"{path}: {where}: bad composition: {_one_line(exc)}") from None
            record = MetadataRecord._normalised(values, composition, extras)
            _add(records, path, file_name, record, where)
        return records
    except csv.Error as exc:
        raise MetadataError(f"{path}: line {reader.line_num}: malformed CSV: {_one_line(exc)}") from None


# ---------------------------------------------------------------------------------------------------------
# Lookup
# ---------------------------------------------------------------------------------------------------------

# One cached case-insensitive index: (the records dict itself, its size when indexed, casefolded key -> key).
# Holding the dict keeps its id from being reused; a change of size rebuilds the index, and every hit is
# checked against the dict, so a stale index can only miss a key renamed in place (same size).
_casefold_cache: tuple[dict[str, MetadataRecord], int, dict[str, str]] | None = None


def _casefold_lookup(base: str, records: dict[str, MetadataRecord]) -> MetadataRecord | None:
    global _casefold_cache
    cache = _casefold_cache
    if cache is None or cache[0] is not records or cache[1] != len(records):
        index: dict[str, str] = {}
        for key in records:
            index.setdefault(_base_name(key).casefold(), key)
        cache = (records, len(records), index)
        _casefold_cache = cache
    found = cache[2].get(base.casefold())
    if found is None or found not in records:
        return None
    return records[found]


def record_for(name: str, records: dict[str, MetadataRecord]) -> MetadataRecord:
    """The metadata for file `name`: its entry in `records` with gaps filled from the name, or the name alone.

    The entry is found by base name, then case-insensitively. Missing design, season and quality are taken
    from `parse_filename`; a missing colourway too, unless the entry names a different design than the file
    name does. Without an entry, the record holds what the name says (all None when it does not parse).
    The returned record is a copy: changing it leaves `records` alone.
    """
    base = _base_name(name)
    entry = records.get(base)
    if entry is None and base != name:
        entry = records.get(name)
    if entry is None:
        entry = _casefold_lookup(base, records)
    parsed = parse_filename(base)
    if entry is None:
        if parsed is None:
            return MetadataRecord()
        return MetadataRecord(
            design=parsed.design, season=parsed.season, quality=parsed.quality, colourway=parsed.colourway
        )
    record = replace(entry, composition=list(entry.composition), extras=dict(entry.extras))
    if parsed is not None:
        same_design = record.design is None or record.design.upper() == (parsed.design or "").upper()
        record.design = record.design or parsed.design
        record.season = record.season or parsed.season
        record.quality = record.quality or parsed.quality
        if record.colourway is None and same_design:
            record.colourway = parsed.colourway
    return record
