"""The `jobs` table: typed records, inserts, the worker queue (claim, lease, cancel requests), reaping dead owners."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from swatch.catalog.db import Catalog, now_iso

ACTIVE_STATES = ("queued", "running")
UNCLAIMED = "queue"  # the owner of a job queued for `swatch worker` that no worker has claimed yet
_UPDATABLE = frozenset({"state", "progress", "message", "result"})
_SELECT = ("SELECT id, kind, state, progress, message, params, result, created_at, updated_at, owner, heartbeat_at"
           " FROM jobs")


@dataclass(frozen=True)
class JobRecord:
    """One row of `jobs`, JSON columns decoded."""

    id: str
    kind: str
    state: str
    progress: float
    message: str
    params: dict[str, Any]
    result: dict[str, Any]
    created_at: str
    updated_at: str
    owner: str | None
    heartbeat_at: str | None


@dataclass(frozen=True)
class StaleJob:
    """A queued or running job whose owner stopped heartbeating, with the age of its last sign of life."""

    id: str
    owner: str | None
    silent_s: float


def _parse_iso(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _loads(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _record(r: Sequence[Any]) -> JobRecord:
    return JobRecord(id=r[0], kind=r[1], state=r[2], progress=float(r[3]), message=r[4] or "", params=_loads(r[5]),
                     result=_loads(r[6]), created_at=r[7], updated_at=r[8], owner=r[9], heartbeat_at=r[10])


def insert_job(catalog: Catalog, job_id: str, kind: str, params: dict[str, Any], owner: str) -> None:
    """A new queued job owned (and heartbeaten, as of now) by `owner`."""
    stamp = now_iso()
    with catalog.transaction() as tx:
        tx.execute(
            "INSERT INTO jobs(id, kind, state, progress, message, params, result, created_at, updated_at, owner,"
            " heartbeat_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (job_id, kind, "queued", 0.0, "", json.dumps(params, sort_keys=True, default=str), "{}", stamp, stamp,
             owner, stamp),
        )


def update_job(catalog: Catalog, job_id: str, **values: Any) -> None:
    """Set some of state, progress, message, result (a dict, stored as JSON) and touch updated_at."""
    unknown = set(values) - _UPDATABLE
    if unknown:
        raise ValueError(f"not job columns: {', '.join(sorted(unknown))}")
    if "result" in values:
        values["result"] = json.dumps(values["result"], default=str)
    cols = "".join(f"{k} = ?, " for k in values)
    with catalog.transaction() as tx:
        tx.execute(f"UPDATE jobs SET {cols}updated_at = ? WHERE id = ?", (*values.values(), now_iso(), job_id))


def heartbeat(catalog: Catalog, job_ids: Sequence[str], owner: str) -> None:
    """Record that `owner` is alive and still running these jobs."""
    if not job_ids:
        return
    marks = ",".join("?" * len(job_ids))
    with catalog.transaction(serial=False) as tx:
        tx.execute(
            f"UPDATE jobs SET heartbeat_at = ? WHERE owner = ? AND state IN ('queued', 'running') AND id IN ({marks})",
            (now_iso(), owner, *job_ids),
        )


def fail_stale(catalog: Catalog, stale_after_s: float) -> list[StaleJob]:
    """Fail every queued or running job not heartbeaten for `stale_after_s` (its owner died); returns them.

    Jobs from before heartbeats existed count their last update as their last heartbeat.
    """
    now = datetime.now(UTC)
    failed: list[StaleJob] = []
    with catalog.transaction() as tx:
        rows = tx.execute(
            "SELECT id, owner, COALESCE(heartbeat_at, updated_at) FROM jobs WHERE state IN ('queued', 'running')"
            " AND NOT (state = 'queued' AND owner IS ?)", (UNCLAIMED,)  # waiting for a worker is not dying
        ).fetchall()
        for job_id, owner, last in rows:
            silent = (now - _parse_iso(last)).total_seconds()
            if silent < stale_after_s:
                continue
            tx.execute(
                "UPDATE jobs SET state = 'failed', message = ?, updated_at = ? WHERE id = ?",
                (f"worker died (no heartbeat for {silent:.0f} s)", now_iso(), job_id),
            )
            failed.append(StaleJob(job_id, owner, silent))
    return failed


def enqueue_job(catalog: Catalog, job_id: str, kind: str, params: dict[str, Any]) -> None:
    """A new queued job that no process owns yet: a worker claims it (`claim_job`)."""
    stamp = now_iso()
    with catalog.transaction() as tx:
        tx.execute(
            "INSERT INTO jobs(id, kind, state, progress, message, params, result, created_at, updated_at, owner,"
            " heartbeat_at) VALUES (?,?,?,?,?,?,?,?,?,?,NULL)",
            (job_id, kind, "queued", 0.0, "", json.dumps(params, sort_keys=True, default=str), "{}", stamp, stamp,
             UNCLAIMED),
        )


def claim_job(catalog: Catalog, owner: str, kinds: Sequence[str]) -> JobRecord | None:
    """The oldest unclaimed queued job of one of `kinds`, now running and leased to `owner`; None when none.

    One transaction; the UPDATE is conditional on the job still being queued and unclaimed, and only a changed
    row counts, so two workers never both get one job. On PostgreSQL the SELECT takes the row FOR UPDATE SKIP
    LOCKED: a job another worker is claiming right now is passed over, not waited for."""
    if not kinds:
        return None
    marks = ",".join("?" * len(kinds))
    # PostgreSQL: the row is locked by the claiming transaction and other workers skip it (workers on several
    # machines share one queue without waiting on each other); SQLite: BEGIN IMMEDIATE already serialises them
    skip = " FOR UPDATE SKIP LOCKED" if catalog.dialect == "postgres" else ""
    with catalog.transaction(serial=False) as tx:
        row = tx.execute(
            f"SELECT id FROM jobs WHERE state = 'queued' AND owner IS ? AND kind IN ({marks})"
            " ORDER BY created_at, id LIMIT 1" + skip, (UNCLAIMED, *kinds)).fetchone()
        if row is None:
            return None
        stamp = now_iso()
        changed = tx.execute(
            "UPDATE jobs SET state = 'running', owner = ?, heartbeat_at = ?, updated_at = ?"
            " WHERE id = ? AND state = 'queued' AND owner IS ?", (owner, stamp, stamp, row[0], UNCLAIMED)).rowcount
    return get_job(catalog, row[0]) if changed == 1 else None


def leases(catalog: Catalog, job_ids: Sequence[str], owner: str) -> dict[str, bool]:
    """Of these jobs, those `owner` still holds (queued or running), each with whether a cancel was requested."""
    if not job_ids:
        return {}
    marks = ",".join("?" * len(job_ids))
    rows = catalog.connect().execute(
        f"SELECT id, result FROM jobs WHERE owner = ? AND state IN ('queued', 'running') AND id IN ({marks})",
        (owner, *job_ids)).fetchall()
    return {str(r[0]): bool(_loads(r[1]).get("cancel_requested")) for r in rows}


def request_cancel(catalog: Catalog, job_id: str) -> bool:
    """Ask a job to stop: an unclaimed queued job is cancelled at once, a held one is flagged for its owner to see.

    False when the job is not queued or running."""
    with catalog.transaction() as tx:
        row = tx.execute("SELECT state, owner, result FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None or row[0] not in ACTIVE_STATES:
            return False
        if row[0] == "queued" and row[1] == UNCLAIMED:
            tx.execute("UPDATE jobs SET state = 'cancelled', message = 'cancelled', updated_at = ? WHERE id = ?",
                       (now_iso(), job_id))
            return True
        result = {**_loads(row[2]), "cancel_requested": True}
        tx.execute("UPDATE jobs SET result = ?, updated_at = ? WHERE id = ?", (json.dumps(result), now_iso(), job_id))
    return True


def finish_job(catalog: Catalog, job_id: str, owner: str, **values: Any) -> bool:
    """Set a held job's final state (and message, progress, result) if `owner` still holds it; False otherwise."""
    if "result" in values:
        values["result"] = json.dumps(values["result"], default=str)
    cols = "".join(f"{k} = ?, " for k in values if k in _UPDATABLE)
    with catalog.transaction() as tx:
        changed = tx.execute(
            f"UPDATE jobs SET {cols}updated_at = ? WHERE id = ? AND owner = ? AND state IN ('queued', 'running')",
            (*(v for k, v in values.items() if k in _UPDATABLE), now_iso(), job_id, owner)).rowcount
    return changed == 1


def release_job(catalog: Catalog, job_id: str, owner: str) -> bool:
    """Put a job `owner` holds back in the queue for another worker (its owner stopped cleanly before the end)."""
    with catalog.transaction() as tx:
        changed = tx.execute(
            "UPDATE jobs SET state = 'queued', owner = ?, heartbeat_at = NULL, progress = 0, message = ?,"
            " updated_at = ? WHERE id = ? AND owner = ? AND state IN ('queued', 'running')",
            (UNCLAIMED, "requeued: its worker stopped", now_iso(), job_id, owner)).rowcount
    return changed == 1


def get_job(catalog: Catalog, job_id: str) -> JobRecord | None:
    r = catalog.connect().execute(_SELECT + " WHERE id = ?", (job_id,)).fetchone()
    return _record(r) if r else None


def list_jobs(catalog: Catalog, kind: str | None = None, limit: int = 50) -> list[JobRecord]:
    """Newest first."""
    sql = _SELECT + (" WHERE kind = ?" if kind else "") + " ORDER BY created_at DESC LIMIT ?"
    args: tuple[Any, ...] = (kind, limit) if kind else (limit,)
    return [_record(r) for r in catalog.connect().execute(sql, args)]


def count_by_state(catalog: Catalog) -> dict[str, int]:
    """How many jobs are in each state (states with none left out)."""
    rows = catalog.connect().execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
    return {str(state): int(n) for state, n in rows}
