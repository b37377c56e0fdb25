"""Within one search: marks on the current results move the query and re-rank at once, without retraining.

"More like these, not like those": the query becomes the mean of the query designs' vectors, moved toward the
designs marked yes and away from those marked no (Rocchio's relevance feedback, with weights measured on the
labelled sets: bench/refine.py), and the same index is searched again. The query designs and the rejected ones
are left out of the new list; the accepted ones stay (they are what the designer asked for). The marks themselves
are kept as ratings.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from swatch.bounds import ParamError, integer
from swatch.features.base import l2_normalise
from swatch.search.engine import SearchResult, SimilaritySearch
from swatch.search.errors import SearchError
from swatch.search.params import SearchParams

#: Rocchio's weights of the query, of the liked designs' mean and of the disliked designs' mean (each mean made unit
#: length first). Chosen by the mean residual P@10 gain over the four labelled sets (docs/training.md); the classic
#: 1 / 0.75 / 0.25 gained 0.058, these 0.098; a disliked weight near the other two together collapses the query
ALPHA, BETA, GAMMA = 1.0, 2.0, 1.5
MAX_QUERY_DESIGNS = 10
MAX_MARKS = 100
MAX_SHOWN = 10_000
LIKED_STARS, DISLIKED_STARS = 5, 1


@dataclass(frozen=True)
class Marks:
    """The query designs of a refined search and the designer's yes/no marks on the list it refines."""

    query_ids: tuple[int, ...]
    liked: tuple[int, ...] = ()
    disliked: tuple[int, ...] = ()

    @property
    def marked(self) -> tuple[int, ...]:
        return self.liked + self.disliked


def _ids(value: Any, name: str, limit: int) -> tuple[int, ...]:
    """A list of image ids (each a bounded integer), duplicates dropped in order; ParamError (400) otherwise."""
    if value is None or value == "":
        return ()
    items = value if isinstance(value, list) else [value]
    if len(items) > limit:
        raise ParamError(f"{name}: at most {limit} ids")
    out: dict[int, None] = {}
    for i, item in enumerate(items):
        out[integer(item, f"{name}[{i}]", low=1)] = None
    return tuple(out)


def parse_marks(params: Mapping[str, Any]) -> Marks:
    """Marks from a request: `ids` (1..10 query designs, or `id`), `liked`, `disliked` (in `shown` when given).

    Refused (400): no query design, a design both liked and disliked, a query design marked, a mark on a design
    that is not in `shown` (the list being refined)."""
    query = _ids(params.get("ids", params.get("id")), "ids", MAX_QUERY_DESIGNS)
    if not query:
        raise ParamError("give the query design(s) as ids (1 to 10 image ids)")
    liked = _ids(params.get("liked"), "liked", MAX_MARKS)
    disliked = _ids(params.get("disliked"), "disliked", MAX_MARKS)
    both = sorted(set(liked) & set(disliked))
    if both:
        raise ParamError(f"contradictory marks: {', '.join(map(str, both[:10]))} both liked and disliked")
    marked_queries = sorted(set(query) & (set(liked) | set(disliked)))
    if marked_queries:
        raise ParamError(f"a query design cannot be marked: {', '.join(map(str, marked_queries[:10]))}")
    if "shown" in params:
        shown = set(_ids(params.get("shown"), "shown", MAX_SHOWN))
        stray = [i for i in liked + disliked if i not in shown]
        if stray:
            raise ParamError(f"marks on designs not in the list: {', '.join(map(str, stray[:10]))}")
    return Marks(query, liked, disliked)


def moved_query(
    queries: np.ndarray, liked: np.ndarray, disliked: np.ndarray,
    alpha: float = ALPHA, beta: float = BETA, gamma: float = GAMMA,
) -> np.ndarray:
    """alpha * mean(queries) + beta * mean(liked) - gamma * mean(disliked), each mean unit length, the sum unit
    length (an empty group adds nothing). Unit means keep the weights' balance whether a group is a few alike
    designs or many diverse ones (whose plain mean is short)."""

    def unit_mean(group: np.ndarray) -> np.ndarray:
        m = np.asarray(group, dtype=np.float64).mean(axis=0)
        n = float(np.linalg.norm(m))
        return m / n if n > 1e-6 else m

    q = alpha * unit_mean(queries)
    if len(liked):
        q = q + beta * unit_mean(liked)
    if len(disliked):
        q = q - gamma * unit_mean(disliked)
    if not np.isfinite(q).all() or float(np.linalg.norm(q)) < 1e-6:
        raise SearchError("these marks cancel the query out: mark fewer designs as not alike", 400)
    return l2_normalise(q[None, :].astype(np.float32))[0]


def refine(search: SimilaritySearch, marks: Marks, params: SearchParams) -> SearchResult:
    """The list re-ranked by the moved query: query designs and disliked designs left out, liked ones kept."""
    started = time.perf_counter()
    loaded = search.registry.index(params.model, params.version)
    table = search.metadata.table()

    def rows_of(ids: tuple[int, ...], what: str) -> list[int]:
        rows = []
        for image_id in ids:
            row = loaded.row_of(image_id)
            if row is None:
                known = table.position(image_id) is not None or search.catalog.image(image_id) is not None
                raise SearchError(f"{what} {image_id} has no {params.model}/{loaded.version} features"
                                  if known else f"unknown image id {image_id}", 409 if known else 404)
            rows.append(row)
        return rows

    def vectors(rows: list[int]) -> np.ndarray:
        dim = int(loaded.index.vector(0).shape[0]) if loaded.index.ntotal else 0
        if not rows:
            return np.zeros((0, dim), np.float32)
        return np.stack([search.query_row(loaded, r, params.weight) for r in rows])

    query_rows = rows_of(marks.query_ids, "query design")
    liked_rows, disliked_rows = rows_of(marks.liked, "liked design"), rows_of(marks.disliked, "disliked design")
    query = moved_query(vectors(query_rows), vectors(liked_rows), vectors(disliked_rows))
    result = search.similar_to_vector(loaded, query, params, exclude=query_rows + disliked_rows)
    result.timings["total_ms"] = round((time.perf_counter() - started) * 1000.0, 3)
    return result
