"""Browsing the catalogue from the in-memory metadata snapshot: filtered pages, one image, filter facets."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from swatch.catalog.db import Catalog
from swatch.catalog.snapshot import MetadataSource, MetadataTable
from swatch.search.errors import SearchError
from swatch.search.filters import Filters, check_cluster_version

#: filtered or searched name orders kept per browser (each up to 8 bytes a live image), latest used last
ORDER_CACHE = 8


class Browser:
    """Catalogue pages in name order, single images and the values the filter controls offer.

    A page is a slice of one snapshot's name order (no OFFSET scan): the unfiltered order is the snapshot's
    own, a filtered or searched one is computed once and kept for the next pages while the snapshot lasts."""

    def __init__(self, catalog: Catalog, metadata: MetadataSource):
        self.catalog = catalog
        self.metadata = metadata
        self._orders: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def browse(self, filters: Filters, q: str = "", page: int = 1, per_page: int = 60) -> dict[str, Any]:
        """A catalogue page in name order, narrowed by text (`q` in name/design/quality) and filters."""
        table = self.metadata.table()
        check_cluster_version(self.catalog, filters)
        order = self._order(table, filters, tuple(q.casefold().split()))
        start = (page - 1) * per_page
        return {"images": [table.public(int(p)) for p in order[start : start + per_page]],
                "total": int(len(order)), "page": page, "per_page": per_page}

    def _order(self, table: MetadataTable, filters: Filters, words: tuple[str, ...]) -> np.ndarray:
        """Positions of the rows passing filters and words, in name order; remembered per (snapshot, filters,
        words), except with a cluster filter (hand moves change it without a new snapshot)."""
        if filters.empty and not words:
            return table.by_name
        key = (id(table), table.generation, filters, words)
        with self._lock:
            found = self._orders.get(key)
            if found is not None:
                self._orders.move_to_end(key)
                return found
        mask = filters.mask(table, self.metadata.cluster_labels)
        if words:
            text = table.matching(words)
            mask = text if mask is None else mask & text
        assert mask is not None
        order = table.by_name[mask[table.by_name]]
        order.setflags(write=False)
        if filters.cluster is None:
            with self._lock:
                self._orders[key] = order
                while len(self._orders) > ORDER_CACHE:
                    self._orders.popitem(last=False)
        return order

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
