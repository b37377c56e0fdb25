"""One image's metadata record (the `image_metadata_map.json` entry) and its lookup by file name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from swatch.metadata.composition import parse_composition
from swatch.metadata.errors import MetadataError
from swatch.metadata.filenames import base_name, normalise_season, parse_filename

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
        return cls.normalised(values, composition, extras)

    @classmethod
    def normalised(
        cls, values: Mapping[str, str | None], composition: list[tuple[str, float]], extras: dict[str, object]
    ) -> MetadataRecord:
        """A record from raw text values: season normalised, design and colourway upper-cased."""
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
            index.setdefault(base_name(key).casefold(), key)
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
    base = base_name(name)
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
