"""The fibre-composition grammar: `WV 60; PES 40`, `60% WV, 40% PES`, pairs, mappings, JSON lists."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping

from swatch.metadata.errors import MetadataError

_NUMBER = r"\d+(?:[.,]\d+)?"
_FIBRE = r"[A-Za-z][A-Za-z .'-]*?"
_PCT_FIRST_RE = re.compile(rf"^(?P<pct>{_NUMBER})\s*%?\s*(?P<fibre>{_FIBRE})$")
_FIBRE_FIRST_RE = re.compile(rf"^(?P<fibre>{_FIBRE})\s*[:=]?\s*(?P<pct>{_NUMBER})\s*%?$")
_PERCENT_RE = re.compile(rf"^(?P<pct>{_NUMBER})\s*%?$")
# Parts are split on ; | + / and on commas that are not decimal commas (a digit on both sides: "60,5% WV").
_COMPOSITION_SPLIT_RE = re.compile(r"[;|+/]|(?<!\d),|,(?!\d)")
_COMPOSITION_TOLERANCE = 1.0  # rounding in real catalogues: 33 + 33 + 34.5 is fine, 60 + 60 is not


def fibre_code(value: object) -> str:
    """A fibre name as its upper-case code (`wv` -> `WV`); MetadataError when it is not a fibre name."""
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
    return fibre_code(m.group("fibre")), _percent(m.group("pct"))


def _parse_text(text: str) -> list[tuple[str, float]]:
    if text.startswith("["):
        try:
            decoded = json.loads(text)
        except ValueError as exc:
            raise MetadataError(f"composition {text!r} is not valid JSON: {exc.args[0]}") from None
        return parse_composition(decoded)
    parts = [p.strip() for p in _COMPOSITION_SPLIT_RE.split(text) if p.strip()]
    if not parts:
        raise MetadataError(f"composition {text!r} has no fibres")
    return [_parse_part(p) for p in parts]


def _parse_entries(value: list[object] | tuple[object, ...]) -> list[tuple[str, float]]:
    items: list[tuple[str, float]] = []
    for entry in value:
        if isinstance(entry, str):
            items.append(_parse_part(" ".join(entry.split())))
        elif isinstance(entry, list | tuple) and len(entry) == 2:
            items.append((fibre_code(entry[0]), _percent(entry[1])))
        else:
            raise MetadataError(f"composition entry {entry!r} is not a [fibre, percent] pair")
    return items


def parse_composition(value: object) -> list[tuple[str, float]]:
    """Fibre composition as `[(FIBRE, percent), ...]` from any of the forms found in metadata files.

    Accepted: None or "" (no composition); a list of `[fibre, percent]` pairs or `"FIBRE PERCENT"` strings;
    a mapping `{fibre: percent}`; a JSON list in a string (`[["WV",60],["PES",40]]`); text such as
    `WV 60; PES 40`, `60% WV, 40% PES` or `WV:60 | PES:40` (parts split on `;`, `,`, `|`, `+` or `/`;
    `60,5` is a decimal comma).
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
            return _parse_text(text)
        items = _parse_text(text)
    elif isinstance(value, Mapping):
        items = [(fibre_code(k), _percent(v)) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        items = _parse_entries(value)
    else:
        raise MetadataError(f"composition must be a list or text, got {type(value).__name__}")
    total = sum(p for _, p in items)
    if total > 100.0 + _COMPOSITION_TOLERANCE:
        raise MetadataError(f"composition {_composition_text(items)} adds up to {total:g}%, more than 100%")
    return items


def _composition_text(items: list[tuple[str, float]]) -> str:
    return "; ".join(f"{f} {p:g}" for f, p in items)
