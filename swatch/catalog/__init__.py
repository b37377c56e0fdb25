"""SQLite catalogue of designs: images, metadata, versions, feedback and jobs."""

from swatch.catalog.db import Catalog, CatalogError

__all__ = ["Catalog", "CatalogError"]
