"""CSV export of a cluster version (file name, design, cluster), safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from swatch.catalog.clusters import effective_clusters
from swatch.catalog.db import Catalog
from swatch.clustering.methods import NOT_GROUPED
from swatch.clustering.versions import version_info

HEADER = ("file_name", "design", "cluster")
#: the cluster cell of a design DBSCAN left out of every group (cluster -1)
NOT_GROUPED_CELL = "not grouped"
#: a cell starting with one of these is a formula to Excel/LibreOffice/Sheets
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value: object) -> str:
    """The cell as text, with a leading apostrophe when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _line(cells: tuple[object, ...]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow([safe_cell(c) for c in cells])
    return buf.getvalue()


def export_csv(catalog: Catalog, version: str, chunk: int = 2000) -> Iterator[str]:
    """CSV text, a chunk of lines at a time: live designs of a version with hand moves applied, by cluster then name
    (the not grouped set of a DBSCAN version first, its cluster cell "not grouped").

    The version is checked before the first line is produced (ClusterError when unknown).
    """
    version_info(catalog, version)
    clusters = effective_clusters(catalog, version)

    def lines() -> Iterator[str]:
        yield _line(HEADER)
        ids = sorted(clusters)
        rows: list[tuple[int, str, str, int]] = []
        for start in range(0, len(ids), chunk):
            for img in catalog.images_by_ids(ids[start : start + chunk]).values():
                if img.removed_at is None:
                    rows.append((clusters[img.id], img.filename, img.design or "", img.id))
        rows.sort()
        for start in range(0, len(rows), chunk):
            yield "".join(_line((name, design, NOT_GROUPED_CELL if cluster == NOT_GROUPED else cluster))
                          for cluster, name, design, _ in rows[start : start + chunk])

    return lines()
