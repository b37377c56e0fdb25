"""The `model_versions` table: which feature/model versions exist and which one of each model is active."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from swatch.catalog.db import Database
else:  # the mixin is combined with Database into Catalog (swatch.catalog.db)
    Database = object


#: one active version per model (a CASE, not a boolean: the column is an integer on both dialects)
_ACTIVATE = "UPDATE model_versions SET active = CASE WHEN version = ? THEN 1 ELSE 0 END WHERE model = ?"


class ModelVersionEntry(NamedTuple):
    """A version to register: its model, name, info and whether it becomes the active one."""

    model: str
    version: str
    info: dict[str, Any]
    activate: bool = False


class ModelRegistry(Database):
    """Registration and activation of model versions (a part of Catalog)."""

    def register_model_version(
        self, model: str, version: str, info: dict[str, Any], activate: bool = False
    ) -> None:
        self.register_model_versions([ModelVersionEntry(model, version, info, activate)])

    def register_model_versions(self, entries: Sequence[tuple[str, str, dict[str, Any], bool]]) -> None:
        """Register (model, version, info, activate) entries (ModelVersionEntry) in one transaction: all of them
        or none. A model with no active version gets this one as active."""
        with self.transaction() as tx:
            for model, version, info, activate in entries:
                tx.execute(
                    "INSERT INTO model_versions(model, version, active, created_at, info) VALUES (?,?,0,?,?)"
                    " ON CONFLICT(model, version) DO UPDATE SET info = excluded.info",
                    (model, version, self.now(), json.dumps(info, sort_keys=True)),
                )
                has_active = tx.execute(
                    "SELECT 1 FROM model_versions WHERE model = ? AND active = 1", (model,)
                ).fetchone()
                if activate or not has_active:
                    tx.execute(_ACTIVATE, (version, model))

    def activate_model_version(self, model: str, version: str) -> None:
        with self.transaction() as tx:
            if not tx.execute(
                "SELECT 1 FROM model_versions WHERE model = ? AND version = ?", (model, version)
            ).fetchone():
                raise KeyError(f"unknown version {version!r} of model {model!r}")
            tx.execute(_ACTIVATE, (version, model))

    def active_version(self, model: str) -> str | None:
        r = self.connect().execute(
            "SELECT version FROM model_versions WHERE model = ? AND active = 1", (model,)
        ).fetchone()
        return str(r[0]) if r else None

    def model_versions(self, model: str | None = None) -> list[dict[str, Any]]:
        """The registered versions (of one model, or all) in the API's shape: model, version, active,
        created_at, info; ordered by model, then version number."""
        sql = "SELECT model, version, active, created_at, info FROM model_versions"
        args: tuple[str, ...] = ()
        if model:
            sql += " WHERE model = ?"
            args = (model,)
        rows = sorted(self.connect().execute(sql + " ORDER BY model, version", args),
                      key=lambda r: (r[0], _version_number(r[1])))
        return [
            {"model": m, "version": v, "active": bool(a), "created_at": c, "info": json.loads(i)}
            for m, v, a, c, i in rows
        ]


def _version_number(version: str) -> int:
    """The N of `vN` (the leading digits after the first character, 0 when none), as SQLite's CAST read it."""
    digits = re.match(r"\d*", version[1:])
    return int(digits.group(0)) if digits and digits.group(0) else 0
