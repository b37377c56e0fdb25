"""Designers' 1-5 star ratings of search results: durable inserts and per-version summaries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from swatch.catalog.changes import FEEDBACK, bump
from swatch.catalog.db import Catalog, now_iso

MAX_RATER = 100  # characters of a rater's name
MAX_NAME = 4096  # characters of an image's relative path or file name


class FeedbackRating(NamedTuple):
    """One stored rating as training reads it (query and result ids are None when the image row is gone)."""

    id: int
    query_id: int | None
    result_id: int | None
    rating: int


class FeedbackError(ValueError):
    """A rating that cannot be stored (unknown image, bad rating, bad rater)."""


def _rater(rater: object) -> str | None:
    """The rater's name: None, or a text of 1..MAX_RATER printable characters (stripped)."""
    if rater is None or rater == "":
        return None
    name = rater.strip() if isinstance(rater, str) else ""
    if not name or len(name) > MAX_RATER or not name.isprintable():
        raise FeedbackError(f"rater must be a text of 1 to {MAX_RATER} printable characters")
    return name


def add_rating(
    catalog: Catalog, query: str, result: str, model: str, version: str, rating: int, rater: str | None = None
) -> int:
    """Store one rating in its own transaction (synchronous=FULL: durable once this returns); returns its id.
    Values are checked first (stars an int 1..5, names and rater bounded texts): FeedbackError stores nothing."""
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise FeedbackError("rating must be an integer from 1 to 5")
    for what, name in (("query", query), ("result", result)):
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
            raise FeedbackError(f"{what} must be an image's file name or relative path (at most {MAX_NAME} characters)")
    who = _rater(rater)
    q = catalog.find_image(query)
    r = catalog.find_image(result)
    if q is None:
        raise FeedbackError(f"unknown query image {query[:200]!r}")
    if r is None:
        raise FeedbackError(f"unknown result image {result[:200]!r}")
    with catalog.transaction() as tx:
        cur = tx.execute(
            "INSERT INTO feedback(query_id, query_name, result_id, result_name, model, version, rating, rater,"
            " created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (q.id, q.path, r.id, r.path, model, version, rating, who, now_iso()),
        )
        bump(tx, FEEDBACK)
        return int(cur.lastrowid or 0)


def summary(catalog: Catalog, recent: int = 10) -> list[dict[str, Any]]:
    """Per (model, version): count, mean rating, stars histogram and the most recent ratings."""
    conn = catalog.connect()
    out = []
    for model, version, count, mean in conn.execute(
        "SELECT model, version, COUNT(*), AVG(rating) FROM feedback GROUP BY model, version ORDER BY model, version"
    ):
        hist = dict.fromkeys(range(1, 6), 0)
        for stars, n in conn.execute(
            "SELECT rating, COUNT(*) FROM feedback WHERE model = ? AND version = ? GROUP BY rating", (model, version)
        ):
            hist[int(stars)] = int(n)
        last = [
            {"query": q, "result": r, "rating": s, "created_at": t}
            for q, r, s, t in conn.execute(
                "SELECT query_name, result_name, rating, created_at FROM feedback WHERE model = ? AND version = ?"
                " ORDER BY id DESC LIMIT ?",
                (model, version, recent),
            )
        ]
        out.append({"model": model, "version": version, "count": int(count), "mean": round(float(mean), 3),
                    "stars": hist, "recent": last})
    return out


def ratings_of(catalog: Catalog, model: str) -> list[FeedbackRating]:
    """Every rating given to `model`'s results, oldest first."""
    rows = catalog.connect().execute(
        "SELECT id, query_id, result_id, rating FROM feedback WHERE model = ? ORDER BY id", (model,)
    )
    return [FeedbackRating(int(f), q, r, int(s)) for f, q, r, s in rows]


def add_marks(
    catalog: Catalog, query_ids: Sequence[int], stars_by_id: Mapping[int, int], model: str, version: str,
    rater: str | None = None,
) -> int:
    """Store the marks of one refined search as ratings, one per (query design, marked design), all in one
    transaction (all or none); returns how many. Unknown or removed images are a FeedbackError that stores nothing."""
    who = _rater(rater)
    rows = catalog.images_by_ids(sorted({*query_ids, *stars_by_id}))
    missing = sorted(i for i in {*query_ids, *stars_by_id} if i not in rows or rows[i].removed_at is not None)
    if missing:
        raise FeedbackError(f"unknown image id(s) {', '.join(map(str, missing[:10]))}")
    if any(isinstance(s, bool) or not 1 <= s <= 5 for s in stars_by_id.values()):
        raise FeedbackError("rating must be an integer from 1 to 5")
    stamp = now_iso()
    values = [
        (q, rows[q].path, r, rows[r].path, model, version, int(stars), who, stamp)
        for q in query_ids for r, stars in stars_by_id.items()
    ]
    with catalog.transaction() as tx:
        tx.executemany(
            "INSERT INTO feedback(query_id, query_name, result_id, result_name, model, version, rating, rater,"
            " created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            values,
        )
        bump(tx, FEEDBACK)
    return len(values)
