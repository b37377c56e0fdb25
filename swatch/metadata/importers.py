"""Metadata file importers: the `image_metadata_map.json` schema and CSV sheets, keyed by base file name."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from swatch.metadata.composition import fibre_code, parse_composition
from swatch.metadata.errors import MetadataError, one_line
from swatch.metadata.filenames import base_name
from swatch.metadata.records import MetadataRecord

MAX_METADATA_BYTES = 200 * 1024 * 1024
"""Metadata files larger than this are refused (a catalogue of millions of entries is well under it)."""


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
        raise MetadataError(f"{path}: cannot read metadata file: {one_line(exc.strerror or exc)}") from None
    if len(raw) > max_bytes:  # the file grew between stat and read
        raise MetadataError(f"{path}: metadata file is over the {max_bytes / 1e6:.1f} MB limit")
    if suffix == ".json":
        return _load_json(path, raw)
    return _load_csv(path, raw)


def _add(
    records: dict[str, MetadataRecord], path: Path, key: str, record: MetadataRecord, where: str
) -> None:
    base = base_name(key).strip()
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
            f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {one_line(exc.msg)}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise MetadataError(f"{path}: malformed JSON: {one_line(exc)}") from None
    if not isinstance(data, dict):
        raise MetadataError(
            f"{path}: top level must be an object keyed by file name, got {type(data).__name__}"
        )
    records: dict[str, MetadataRecord] = {}
    for key, entry in data.items():
        where = f"entry {one_line(key)!r}"
        if not isinstance(entry, dict):
            raise MetadataError(f"{path}: {where}: expected an object, got {type(entry).__name__}")
        try:
            record = MetadataRecord.from_json(entry)
        except MetadataError as exc:
            raise MetadataError(f"{path}: {where}: {one_line(exc)}") from None
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


@dataclass(frozen=True)
class _Column:
    """What one CSV column holds: a field (`role`: file, design, ..., composition), a fibre, an extra or nothing."""

    role: str
    detail: str = ""


def _header_key(name: str) -> str:
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def _decode_csv(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise MetadataError(f"{path}: not UTF-8 or cp1252 text (byte {exc.start})") from None


def _columns(path: Path, reader: Iterator[list[str]]) -> list[_Column]:
    """The roles of the header row's columns (blank rows before it skipped); MetadataError when it is unusable."""
    header = next(reader, None)
    while header is not None and not any(cell.strip() for cell in header):
        header = next(reader, None)
    if header is None:
        raise MetadataError(f"{path}: empty CSV file; a header row with a 'file' column is required")
    names = [cell.strip() for cell in header]
    columns: list[_Column] = []
    seen: dict[str, str] = {}
    for name in names:
        key = _header_key(name)
        fibre = _FIBRE_COLUMN_RE.match(key)
        if not name:
            column = _Column("ignored")
        elif key in _CSV_ALIASES:
            column = _Column(_CSV_ALIASES[key])
        elif fibre:
            column = _Column("fibre", fibre_code(fibre.group("code").replace("_", " ")))
        else:
            column = _Column("extra", name)
        if column.role != "ignored":
            tag = f"{column.role}:{column.detail}"
            if tag in seen:
                raise MetadataError(f"{path}: header: columns {seen[tag]!r} and {name!r} mean the same")
            seen[tag] = name
        columns.append(column)
    if "file:" not in seen:
        found = ", ".join(repr(n) for n in names if n) or "none"
        raise MetadataError(f"{path}: header: no 'file' or 'filename' column (columns: {found})")
    return columns


def _csv_row(path: Path, line: int, columns: list[_Column], row: list[str]) -> tuple[str, MetadataRecord, str]:
    """(file name, record, where) of one non-blank data row."""
    if len(row) > len(columns) and any(cell.strip() for cell in row[len(columns) :]):
        raise MetadataError(f"{path}: line {line}: {len(row)} cells for {len(columns)} columns")
    values: dict[str, str | None] = {}
    fibres: list[tuple[str, object]] = []
    extras: dict[str, object] = {}
    composition_text: str | None = None
    for column, cell in zip(columns, row, strict=False):
        cell = " ".join(cell.split())
        if not cell or column.role == "ignored":
            continue
        if column.role == "fibre":
            fibres.append((column.detail, cell))
        elif column.role == "composition":
            composition_text = cell
        elif column.role == "extra":
            extras[column.detail] = cell
        else:
            values[column.role] = cell
    file_name = values.pop("file", None)
    where = f"line {line}" + (f" ({file_name!r})" if file_name else "")
    if not file_name:
        raise MetadataError(f"{path}: {where}: empty file name")
    if composition_text and fibres:
        raise MetadataError(f"{path}: {where}: both a composition column and fiber_ columns are filled")
    try:
        composition = parse_composition(composition_text or fibres)
    except MetadataError as exc:
        raise MetadataError(f"{path}: {where}: bad composition: {one_line(exc)}") from None
    return file_name, MetadataRecord.normalised(values, composition, extras), where


def _load_csv(path: Path, raw: bytes) -> dict[str, MetadataRecord]:
    text = _decode_csv(path, raw)
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        columns = _columns(path, reader)
        records: dict[str, MetadataRecord] = {}
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            file_name, record, where = _csv_row(path, reader.line_num, columns, row)
            _add(records, path, file_name, record, where)
        return records
    except csv.Error as exc:
        raise MetadataError(f"{path}: line {reader.line_num}: malformed CSV: {one_line(exc)}") from None
