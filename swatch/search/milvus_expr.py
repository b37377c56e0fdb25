"""Search filters as one Milvus boolean expression over the collection's scalar fields, user values quoted."""

from __future__ import annotations

import json
import math

from swatch.catalog.snapshot import season_key, text_key
from swatch.search.filters import FibreRange, Filters

#: an expression no row matches (row positions are never negative)
NOTHING = "row < 0"
#: slack of the share comparisons (the same as the mask's)
EPS = 1e-6


def literal(value: str) -> str:
    """A Milvus string literal: double-quoted, backslash, quote and control characters escaped (JSON rules)."""
    return json.dumps(str(value), ensure_ascii=False)


def design_key(value: str) -> str:
    """The key designs are matched by (as the metadata table's design column)."""
    return " ".join(value.split()).upper()


def _number(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"not a finite share: {value!r}")
    return repr(float(value))


def _text_in(field: str, keys: list[str]) -> str:
    return f"{field} in [{', '.join(literal(k) for k in dict.fromkeys(keys))}]"


def _fibre(rng: FibreRange, fibres: frozenset[str]) -> str:
    """One fibre range. Rows store every known fibre (0 where absent), so comparisons see the mask's zeros;
    a fibre no row has is 0 everywhere and folds to a constant."""
    parts = ["has_comp == true"]
    if rng.fiber not in fibres:
        return parts[0] if not rng.min and rng.max is not None else NOTHING
    share = f"fibres[{literal(rng.fiber)}]"
    if not rng.min and rng.max is None:
        parts.append(f"{share} > 0")
    if rng.min is not None:
        parts.append(f"{share} >= {_number(rng.min - EPS)}")
    if rng.max is not None:
        parts.append(f"{share} <= {_number(rng.max + EPS)}")
    return " and ".join(parts)


def expression(filters: Filters, fibres: frozenset[str], exclude: tuple[int, ...] = ()) -> str:
    """The live rows passing `filters` (fields AND-ed, values OR-ed), minus rows `exclude`, as one expression.

    `fibres`: the fibre codes the collection stores a share of. Every value is quoted with `literal`.
    """
    parts = ["live == true"]
    if filters.season:
        parts.append(_text_in("season", [season_key(v) for v in filters.season]))
    if filters.quality:
        parts.append(_text_in("quality", [text_key(v) for v in filters.quality]))
    if filters.design:
        parts.append(_text_in("design", [design_key(v) for v in filters.design]))
    for rng in filters.composition:
        part = _fibre(rng, fibres)
        if part == NOTHING:
            return NOTHING
        parts.append(f"({part})")
    if filters.cluster is not None:
        ids = ", ".join(str(int(i)) for i in filters.cluster.ids)
        parts.append(f"clusters[{literal(filters.cluster.version)}] in [{ids}]")
    if exclude:
        parts.append(f"row not in [{', '.join(str(int(r)) for r in sorted(set(exclude)))}]")
    return " and ".join(parts)
