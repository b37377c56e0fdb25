"""Editing beside an immutable cluster version: a new cluster from a selection, cluster names, version comments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from swatch.catalog import comments as comments_sql
from swatch.catalog.clusters import (
    ClusterName,
    Move,
    added_clusters,
    cluster_names,
    current_clusters,
    insert_added_cluster,
    insert_moves,
    set_cluster_name,
)
from swatch.catalog.comments import Comment
from swatch.catalog.db import Catalog, now_iso
from swatch.clustering.moves import MAX_MOVE, design_ids
from swatch.clustering.versions import ClusterError, cluster_ids, id_range, version_info

NAME_MAX = 80
COMMENT_MAX = 2_000
#: clusters a version may gain by hand
MAX_ADDED = 1_000


class NotFound(ClusterError):
    """The cluster version, model version or comment named does not exist (HTTP 404)."""


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > NAME_MAX \
            or not value.strip().isprintable():
        raise ClusterError(f"name must be 1 to {NAME_MAX} printable characters")
    return value.strip()


def _version(catalog: Catalog, version: str) -> dict[str, Any]:
    try:
        return version_info(catalog, version)
    except ClusterError as exc:
        raise (NotFound(str(exc)) if "unknown" in str(exc) else exc) from None


def new_cluster(catalog: Catalog, version: str, refs: Sequence[object], name: object,
                by: str | None = None) -> dict[str, Any]:
    """Add a cluster to a version and move the selected designs into it, in one transaction (all or nothing).

    The new cluster's number follows the version's last one; the assignment itself never changes.
    """
    info = _version(catalog, version)
    label = _name(name)
    if not isinstance(refs, list | tuple) or not refs:
        raise ClusterError("'ids' must be a non-empty list of design ids or file names")
    if len(refs) > MAX_MOVE:
        raise ClusterError(f"at most {MAX_MOVE} designs per new cluster")
    ids = design_ids(catalog, refs)
    stamp = now_iso()
    with catalog.transaction() as tx:
        added = added_clusters(tx, version)
        if len(added) >= MAX_ADDED:
            raise ClusterError(f"{version} already has {MAX_ADDED} clusters added by hand")
        cluster = max([int(info["k"]) - 1, *added]) + 1
        current = current_clusters(tx, version, ids)
        missing = [i for i in ids if i not in current]
        if missing:
            raise ClusterError(f"design(s) not in cluster version {version}: {', '.join(map(str, missing[:5]))}"
                               + (" ..." if len(missing) > 5 else ""))
        insert_added_cluster(tx, ClusterName(version, cluster, label, True, by, stamp))
        insert_moves(tx, [Move(version, i, current[i], cluster, by, stamp) for i in ids])
    return {"version": version, "cluster": cluster, "name": label, "moved": ids, "moved_by": by, "moved_at": stamp}


def rename_cluster(catalog: Catalog, version: str, cluster: int, name: object, by: str | None = None) -> dict[str, Any]:
    """Name (or rename) one cluster of a version; the name is kept beside the version."""
    info = _version(catalog, version)
    label = _name(name)
    known = cluster_ids(catalog, info)
    if cluster not in known:
        raise NotFound(f"cluster {cluster} is not in {version} ({id_range(known)})")
    stamp = now_iso()
    with catalog.transaction() as tx:
        set_cluster_name(tx, ClusterName(version, cluster, label, False, by, stamp))
    return cluster_names(catalog, version)[cluster].to_dict() | {"version": version}


def _subject(catalog: Catalog, kind: object, subject: object) -> tuple[str, str]:
    """A comment's (kind, subject), checked: the cluster version or model version must exist."""
    if kind not in comments_sql.KINDS:
        raise ClusterError(f"kind must be one of {', '.join(comments_sql.KINDS)}")
    if not isinstance(subject, str) or not subject or len(subject) > 200:
        raise ClusterError("subject must name a version: 'v3' (cluster) or 'pattern/v2' (model)")
    if kind == "cluster":
        _version(catalog, subject)
    else:
        model, _, version = subject.partition("/")
        if not (model and version and any(v["version"] == version for v in catalog.model_versions(model))):
            raise NotFound(f"unknown model version {subject[:60]!r} (give it as model/version, e.g. pattern/v1)")
    return str(kind), subject


def _body(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > COMMENT_MAX:
        raise ClusterError(f"body must be 1 to {COMMENT_MAX} characters")
    return value.strip()


def comments(catalog: Catalog, kind: str | None = None, subject: str | None = None) -> list[dict[str, Any]]:
    """Comments (of one kind or subject when given), oldest first."""
    if kind is not None and kind not in comments_sql.KINDS:
        raise ClusterError(f"kind must be one of {', '.join(comments_sql.KINDS)}")
    return [c.to_dict() for c in comments_sql.list_comments(catalog, kind, subject)]


def add_comment(catalog: Catalog, kind: object, subject: object, body: object, author: str | None) -> dict[str, Any]:
    k, s = _subject(catalog, kind, subject)
    stamp = now_iso()
    return comments_sql.add_comment(catalog, Comment(k, s, _body(body), author, stamp, stamp)).to_dict()


def edit_comment(catalog: Catalog, comment_id: int, body: object, author: str | None) -> dict[str, Any]:
    text = _body(body)
    edited = comments_sql.edit_comment(catalog, comment_id, text, author, now_iso())
    if edited is None:
        raise NotFound(f"unknown comment {comment_id}")
    return edited.to_dict()


def delete_comment(catalog: Catalog, comment_id: int) -> None:
    if not comments_sql.delete_comment(catalog, comment_id):
        raise NotFound(f"unknown comment {comment_id}")
