"""Flask application factory: settings, logging, catalogue, jobs, healing, then one `init_app` per area."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask

from swatch.catalog.db import Catalog
from swatch.config import Settings
from swatch.jobs import JobRunner


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. `test_config` may hold `SETTINGS` (a Settings) or `DATA_DIR` for tests."""
    app = Flask(__name__)  # templates/ and static/ beside this module, shipped as package data
    config = dict(test_config or {})
    settings = _settings(config)
    _configure(app, settings, config)
    catalog = _open_catalogue(app, settings)
    _start_jobs(app, settings, catalog)
    _heal(settings, catalog)
    for init_app in _areas():
        init_app(app)
    return app


def _settings(config: dict[str, Any]) -> Settings:
    """The given Settings, or SWATCH_* from the environment (with a test's DATA_DIR); popped from config."""
    settings = config.pop("SETTINGS", None)
    if settings is not None:
        return settings
    overrides: dict[str, Any] = {}
    if "DATA_DIR" in config:
        overrides["data_dir"] = Path(config.pop("DATA_DIR"))
    return Settings.from_env(**overrides)


def _configure(app: Flask, settings: Settings, config: dict[str, Any]) -> None:
    """Flask's own settings (upload bound, JSON order), then the test's, and the data folder made."""
    app.config.from_mapping(MAX_CONTENT_LENGTH=settings.max_upload_bytes + 1024 * 1024, JSON_SORT_KEYS=False)
    app.config.update(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app.extensions["swatch.settings"] = settings


def _open_catalogue(app: Flask, settings: Settings) -> Catalog:
    """The app's one catalogue (migrated on open); every request and job uses it."""
    catalog = Catalog(settings.database)
    app.extensions["swatch.catalog"] = catalog
    return catalog


def _start_jobs(app: Flask, settings: Settings, catalog: Catalog) -> None:
    """The job runner: its heartbeat, the silence after which a job belongs to a dead process, and whether jobs
    run here or are queued for `swatch worker` (SWATCH_JOBS)."""
    app.extensions["swatch.jobs"] = JobRunner(catalog, settings.job_heartbeat_s, settings.job_stale_s, settings.jobs)


def _heal(settings: Settings, catalog: Catalog) -> None:
    """A training commit that died leaves nothing unregistered behind."""
    from swatch.training.commit import heal

    heal(settings, catalog)


def _areas() -> list[Callable[[Flask], None]]:
    """Each area's `init_app`, in the order they run (each issue adds its area here). Observability comes
    first: its request hooks (request id, timing, access log) wrap everyone's; then bounded request parsing
    and the error answers; the blueprints; the OpenAPI description; security headers on every answer."""
    from swatch.web import (
        admin_link,
        catalog_api,
        clusters,
        colours,
        compare,
        errors,
        feedback,
        folders,
        health,
        jobs,
        learn,
        observability,
        openapi,
        pages,
        params,
        search,
        security,
        training,
    )

    blueprints = [health.bp, jobs.bp, feedback.bp, clusters.bp, pages.bp, search.bp, catalog_api.bp,
                  training.bp, learn.bp, compare.bp, admin_link.bp,
                  colours.bp]
    return [observability.init_app, params.init_app, errors.init_app, *map(_registers, blueprints),
            folders.init_app, openapi.init_app, security.init_app]


def _registers(blueprint: Blueprint) -> Callable[[Flask], None]:
    """The `init_app` of an area that is only a blueprint."""
    return lambda app: app.register_blueprint(blueprint)
