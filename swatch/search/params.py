"""Search request parameters: SearchParams and catalogue paging, parsed and bounded from request values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from swatch.bounds import integer, number
from swatch.config import Settings
from swatch.features.base import MODEL_NAMES
from swatch.features.store import VERSION_RE
from swatch.search.errors import SearchError
from swatch.search.filters import FilterError, Filters, parse_filters

__all__ = ["DEFAULT_MODEL", "DEPTH_FACTOR", "METRICS", "SearchError", "SearchParams", "check_model",
           "parse_page", "parse_search_params", "parse_window", "search_filters", "ResultWindow"]

DEFAULT_MODEL = "pattern"
METRICS = ("cosine", "euclidean")
DEPTH_FACTOR = 10  # page * topN may reach max_top_n * DEPTH_FACTOR


@dataclass(frozen=True)
class SearchParams:
    """Validated parameters of a similarity search."""

    model: str = DEFAULT_MODEL
    version: str | None = None
    top_n: int = 100
    page: int = 1
    metric: str = "cosine"
    weight: float = 0.5
    filters: Filters = field(default_factory=Filters)


def check_model(model: Any) -> str:
    """`model` when it names a known model, else SearchError (400) listing the choices."""
    if model not in MODEL_NAMES:
        raise SearchError(f"unknown model {str(model)[:40]!r}; choose from {', '.join(MODEL_NAMES)}")
    return str(model)


def parse_page(params: Mapping[str, Any], settings: Settings, default_per_page: int = 60) -> tuple[int, int]:
    """(page, per_page) for catalogue pages; per_page at most Settings.max_top_n."""
    page = integer(params.get("page"), "page", low=1, default=1)
    per_page = integer(params.get("per_page"), "per_page", low=1, high=settings.max_top_n,
                       default=default_per_page)
    return page, per_page


@dataclass(frozen=True)
class ResultWindow:
    """What every search request names besides its query: the version that answers, and which page of how many."""

    version: str | None
    top_n: int
    page: int


def parse_window(params: Mapping[str, Any], settings: Settings, model: str) -> ResultWindow:
    """`version`, `topN` (or `top_n`) and `page`, bounded; SearchError (400) when malformed or too deep."""
    version = params.get("version") or None
    if version is not None and (not isinstance(version, str) or not VERSION_RE.match(version)):
        raise SearchError(f"unknown version {str(version)[:40]!r} of model {model!r}")
    top_n = integer(params.get("topN", params.get("top_n")), "topN", low=1, high=settings.max_top_n,
                    default=settings.default_top_n)
    page = integer(params.get("page"), "page", low=1, default=1)
    if page * top_n > settings.max_top_n * DEPTH_FACTOR:
        deepest = settings.max_top_n * DEPTH_FACTOR
        raise SearchError(f"page {page} is too deep: page * topN may be at most {deepest}")
    return ResultWindow(version, top_n, page)


def search_filters(params: Mapping[str, Any]) -> Filters:
    """The request's filters; a malformed one is a SearchError (400)."""
    try:
        return parse_filters(params)
    except FilterError as exc:
        raise SearchError(str(exc)) from None


def parse_search_params(params: Mapping[str, Any], settings: Settings) -> SearchParams:
    """SearchParams from query parameters, form fields or a JSON body; SearchError (400) when malformed."""
    model = check_model(params.get("model") or DEFAULT_MODEL)
    window = parse_window(params, settings, model)
    metric = params.get("metric") or "cosine"
    if metric not in METRICS:
        raise SearchError(f"metric must be one of {', '.join(METRICS)}")
    weight = number(params.get("weight"), "weight", low=0.0, high=1.0, default=0.5)
    return SearchParams(model, window.version, window.top_n, window.page, metric, weight, search_filters(params))
