"""Versioned k-means clusters: runs, versions, representatives, comparison, hand moves and CSV export."""

from swatch.clustering.versions import (
    ClusterError,
    ClusterRequest,
    list_versions,
    run_clustering,
    version_detail,
)

__all__ = ["ClusterError", "ClusterRequest", "list_versions", "run_clustering", "version_detail"]
