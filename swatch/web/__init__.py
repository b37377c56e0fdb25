"""Flask application factory: settings, the catalogue, and one blueprint per area."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from swatch.catalog.db import Catalog
from swatch.config import Settings
from swatch.jobs import JobRunner


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. `test_config` may hold `SETTINGS` (a Settings) or `DATA_DIR` for tests."""
    app = Flask(__name__)  # templates/ and static/ beside this module, shipped as package data
    test_config = dict(test_config or {})
    settings = test_config.pop("SETTINGS", None)
    if settings is None:
        overrides: dict[str, Any] = {}
        if "DATA_DIR" in test_config:
            overrides["data_dir"] = Path(test_config.pop("DATA_DIR"))
        settings = Settings.from_env(**overrides)
    app.config.from_mapping(MAX_CONTENT_LENGTH=settings.max_upload_bytes + 1024 * 1024, JSON_SORT_KEYS=False)
    app.config.update(test_config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app.extensions["swatch.settings"] = settings
    catalog = Catalog(settings.db_path)
    app.extensions["swatch.catalog"] = catalog
    app.extensions["swatch.jobs"] = JobRunner(catalog, settings.job_heartbeat_s, settings.job_stale_s)
    from swatch.training.commit import heal

    heal(settings, catalog)  # a training commit that died leaves nothing unregistered behind
    from swatch.web import observability

    observability.init_app(app)  # first: its request hooks (request id, timing, access log) wrap everyone's

    # bounded request parsing everywhere: JSON bodies (depth, numbers), <int:...> ids; refusals as 4xx JSON
    from swatch.web import errors, params

    app.json = params.BoundedJSONProvider(app)
    app.url_map.converters["int"] = params.Int64Converter
    errors.register(app)

    # one blueprint per area; each issue adds its own line here
    from swatch.web import feedback, health, jobs

    app.register_blueprint(health.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(feedback.bp)
    from swatch.web import clusters

    app.register_blueprint(clusters.bp)
    from swatch.web import pages

    app.register_blueprint(pages.bp)
    from swatch.web import catalog_api, search

    app.register_blueprint(search.bp)
    app.register_blueprint(catalog_api.bp)
    from swatch.web import training

    app.register_blueprint(training.bp)
    from swatch.web import openapi

    openapi.init_app(app)  # /openapi.json and /api/docs
    from swatch.web import security

    security.init_app(app)

    @app.errorhandler(HTTPException)
    def _json_error(exc: HTTPException) -> Any:
        return jsonify(error=exc.description or exc.name), exc.code or 500

    return app
