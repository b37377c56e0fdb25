"""Comment SQL: notes on cluster versions and model versions (editable; the versions themselves never change)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from swatch.catalog.db import Catalog

#: what a comment is about: a cluster version ("v3") or a model version ("pattern/v2")
KINDS = ("cluster", "model")

_SELECT = "SELECT id, kind, subject, body, author, created_at, updated_at FROM comments"


@dataclass(frozen=True)
class Comment:
    """One comment on a version (id is None before it is stored)."""

    kind: str
    subject: str
    body: str
    author: str | None
    created_at: str
    updated_at: str
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "subject": self.subject, "body": self.body,
                "author": self.author, "created_at": self.created_at, "updated_at": self.updated_at}


def _comment(r: Sequence[Any]) -> Comment:
    return Comment(r[1], r[2], r[3], r[4], r[5], r[6], int(r[0]))


def list_comments(catalog: Catalog, kind: str | None = None, subject: str | None = None,
                  limit: int = 1000) -> list[Comment]:
    """Comments (of one kind, on one subject when given), oldest first."""
    where, args = [], []
    if kind is not None:
        where.append("kind = ?")
        args.append(kind)
    if subject is not None:
        where.append("subject = ?")
        args.append(subject)
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id LIMIT ?"
    return [_comment(r) for r in catalog.connect().execute(sql, (*args, limit))]


def get_comment(catalog: Catalog, comment_id: int) -> Comment | None:
    r = catalog.connect().execute(_SELECT + " WHERE id = ?", (comment_id,)).fetchone()
    return None if r is None else _comment(r)


def add_comment(catalog: Catalog, c: Comment) -> Comment:
    """Store a new comment; returns it with its id."""
    with catalog.transaction() as tx:
        cur = tx.execute(
            "INSERT INTO comments(kind, subject, body, author, created_at, updated_at) VALUES (?,?,?,?,?,?)",
            (c.kind, c.subject, c.body, c.author, c.created_at, c.updated_at),
        )
        new_id = cur.lastrowid
    assert new_id is not None
    return Comment(c.kind, c.subject, c.body, c.author, c.created_at, c.updated_at, int(new_id))


def edit_comment(catalog: Catalog, comment_id: int, body: str, author: str | None, at: str) -> Comment | None:
    """Replace a comment's text (and who edited it); None when there is no such comment."""
    with catalog.transaction() as tx:
        changed = tx.execute("UPDATE comments SET body = ?, author = ?, updated_at = ? WHERE id = ?",
                             (body, author, at, comment_id)).rowcount
    return get_comment(catalog, comment_id) if changed else None


def delete_comment(catalog: Catalog, comment_id: int) -> bool:
    with catalog.transaction() as tx:
        return bool(tx.execute("DELETE FROM comments WHERE id = ?", (comment_id,)).rowcount)
