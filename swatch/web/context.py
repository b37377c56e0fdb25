"""Accessors for the per-app objects (settings, catalogue) that views share."""

from __future__ import annotations

from flask import current_app

from swatch.catalog.db import Catalog
from swatch.config import Settings


def settings() -> Settings:
    return current_app.extensions["swatch.settings"]  # type: ignore[no-any-return]


def catalog() -> Catalog:
    return current_app.extensions["swatch.catalog"]  # type: ignore[no-any-return]
