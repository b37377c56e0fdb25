"""The catalogue's own errors: one that cannot be opened, and one whose database is out of reach for now."""

from __future__ import annotations


class CatalogError(RuntimeError):
    """The catalogue cannot be opened or is newer than this code."""


class CatalogUnavailable(CatalogError):
    """The catalogue's database server cannot be reached (at start, or lost while serving): retry later."""
