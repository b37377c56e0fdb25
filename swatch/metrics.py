"""Prometheus metrics of this process, and the text a scrape of /metrics answers.

With PROMETHEUS_MULTIPROC_DIR set (before the first import), counters and histograms live in files there and a
scrape adds up every process's; the catalogue's gauges are read from SQLite at scrape time either way.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from swatch.catalog import jobs as jobdb
from swatch.catalog.db import Catalog, CatalogError
from swatch.jobs import STATES as JOB_STATES

log = logging.getLogger(__name__)
disable_created_metrics()  # no *_created series: a scrape shows what an operator reads


REQUEST_SECONDS = Histogram(
    "swatch_http_request_duration_seconds", "Time to answer an HTTP request, by URL rule and model.",
    ["route", "method", "model"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
REQUESTS = Counter("swatch_http_requests", "HTTP requests answered, by URL rule and status.",
                   ["route", "method", "status"])
SEARCHES = Counter("swatch_searches", "Similarity searches, by model and whether the ranking is exact or "
                   "approximate (HNSW).", ["model", "mode"])
INDEX_BUILD_SECONDS = Histogram(
    "swatch_index_build_seconds", "Index builds (count) and their duration, by model and index kind.",
    ["model", "kind"], buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0),
)


def count_search(model: str, exact: bool) -> None:
    SEARCHES.labels(model=model, mode="exact" if exact else "approximate").inc()


class CatalogueCollector(Collector):
    """Gauges read from the catalogue when scraped: jobs by state and live images."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def collect(self) -> Iterator[Metric]:
        try:
            counts = jobdb.count_by_state(self.catalog)
            images = self.catalog.count_images()
        except (sqlite3.Error, CatalogError) as exc:
            log.warning("metrics: the catalogue cannot be read: %s", exc)
            return
        jobs = GaugeMetricFamily("swatch_jobs", "Background jobs in the catalogue, by state.", labels=["state"])
        for state in (*JOB_STATES, *sorted(set(counts) - set(JOB_STATES))):
            jobs.add_metric([str(state)], float(counts.get(state, 0)))
        yield jobs
        yield GaugeMetricFamily("swatch_catalogue_images", "Live (not removed) images in the catalogue.",
                                value=float(images))


def exposition(catalog: Catalog) -> bytes:
    """The Prometheus text format of this process's (or every process's) metrics and the catalogue gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    scoped = CollectorRegistry(auto_describe=False)
    scoped.register(CatalogueCollector(catalog))
    return generate_latest(registry) + generate_latest(scoped)
