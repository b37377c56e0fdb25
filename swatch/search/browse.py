"""Browsing the catalogue from the in-memory metadata snapshot: filtered pages, one image, filter facets."""

from __future__ import annotations

from typing import Any

import numpy as np

from swatch.catalog.db import Catalog
from swatch.catalog.snapshot import MetadataSource
from swatch.search.errors import SearchError
from swatch.search.filters import Filters, check_cluster_version


class Browser:
    """Catalogue pages in name order, single images and the values the filter controls offer."""

    def __init__(self, catalog: Catalog, metadata: MetadataSource):
        self.catalog = catalog
        self.metadata = metadata

    def browse(self, filters: Filters, q: str = "", page: int = 1, per_page: int = 60) -> dict[str, Any]:
        """A catalogue page in name order, narrowed by text (`q` in name/design/quality) and filters."""
        table = self.metadata.table()
        check_cluster_version(self.catalog, filters)
        mask = filters.mask(table, self.metadata.cluster_labels)
        words = q.casefold().split()
        if words:
            text = np.fromiter((all(w in hay for w in words) for hay in table.haystack), bool, len(table))
            mask = text if mask is None else mask & text
        order = table.by_name if mask is None else table.by_name[mask[table.by_name]]
        start = (page - 1) * per_page
        return {"images": [table.public(int(p)) for p in order[start : start + per_page]],
                "total": int(len(order)), "page": page, "per_page": per_page}

    def image(self, image_id: int) -> dict[str, Any]:
        """The public JSON of one live image; SearchError (404) when there is none with that id."""
        table = self.metadata.table()
        if table.position(image_id) is None and not self.metadata.is_current():
            table = self.metadata.refresh()
        pos = table.position(image_id)
        if pos is None:
            raise SearchError(f"unknown image id {image_id}", 404)
        return table.public(pos)

    def facets(self) -> dict[str, Any]:
        """Values for the filter controls: seasons, qualities, designs (with counts), fibres, clusters."""
        table = self.metadata.table()
        cached = table.facets_cache.get("facets")
        if cached is None:
            codes = table.design.codes
            counts = np.bincount(codes[codes >= 0], minlength=len(table.design.values))
            cached = {
                "seasons": sorted(table.season.values),
                "qualities": sorted(table.quality.values, key=str.casefold),
                "designs": [{"value": v, "label": f"{v} ({int(c)})", "count": int(c)}
                            for v, c in sorted(zip(table.design.values, counts.tolist(), strict=True))],
                "fibres": sorted(table.fibres),
            }
            table.facets_cache["facets"] = cached
        versions = [dict(v, label=f"{v['version']} · {v['model']} · {v['k']} clusters")
                    for v in self.metadata.cluster_versions()]
        return {**cached, "cluster_versions": versions, "images": len(table)}
