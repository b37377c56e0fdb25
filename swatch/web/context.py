"""Accessors for the per-app objects (settings, catalogue) that views share."""

from __future__ import annotations

from flask import current_app

from swatch.catalog.db import Catalog
from swatch.config import Settings
from swatch.jobs import JobRunner


def settings() -> Settings:
    return current_app.extensions["swatch.settings"]


def catalog() -> Catalog:
    """The app's one catalogue: every request and job uses it, never a Catalog of its own."""
    return current_app.extensions["swatch.catalog"]


def jobs() -> JobRunner:
    return current_app.extensions["swatch.jobs"]
