"""The house file-name grammar: `SEASON - QUALITY - DESIGN-COLOURWAY.ext`, and season normalisation."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass


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


def base_name(name: str) -> str:
    """The last path component, for both / and \\ separators."""
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def _title(text: str) -> str:
    """Title case per word and hyphen part, leaving the rest lower: `MEN'S SUPER 120S` -> `Men's Super 120s`."""
    words = []
    for word in text.split():
        words.append("-".join(part[:1].upper() + part[1:].lower() for part in word.split("-")))
    return " ".join(words)


def _stem(text: str) -> str:
    """The file name's stem with separators unified: NFC, `_` and dashes as `-`/space, a duplicate marker gone."""
    base = base_name(text)
    dot = base.rfind(".")
    stem = base[:dot] if dot > 0 else base
    stem = unicodedata.normalize("NFC", stem)
    stem = _DASHES_RE.sub("-", stem.replace("_", " "))
    stem = " ".join(stem.split())
    return _DUPLICATE_SUFFIX_RE.sub("", stem)


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
        stem = _stem(text)
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
