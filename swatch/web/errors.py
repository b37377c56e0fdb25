"""One place that turns the domain's refusals into 4xx JSON answers: {"error": "<one line>"}."""

from __future__ import annotations

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from swatch.bounds import ParamError
from swatch.catalog.errors import CatalogUnavailable
from swatch.catalog.feedback import FeedbackError
from swatch.clustering.editing import NotFound as ClusterNotFound
from swatch.clustering.versions import ClusterError
from swatch.search.errors import VectorBackendUnavailable

#: refusals without a status of their own; ParamError (and SearchError, FilterError: its subclasses) carry one
#: (a cluster edit naming a missing version or comment is a 404, any other refused cluster request a 400)
STATUS: dict[type[Exception], int] = {FeedbackError: 400, VectorBackendUnavailable: 503, ClusterError: 400,
                                      ClusterNotFound: 404}


def answer(message: str, status: int) -> tuple[Response, int]:
    """The JSON error body every refusal uses (the message is one line, cut to a readable length)."""
    return jsonify(error=" ".join(message.split())[:500]), status


def init_app(app: Flask) -> None:
    """Install the handlers on `app`: domain refusals, and every HTTP error (404, 405, 413, ...) as JSON."""

    def param_error(exc: ParamError) -> tuple[Response, int]:
        return answer(str(exc), exc.status)

    app.register_error_handler(ParamError, param_error)

    def catalogue_unavailable(exc: CatalogUnavailable) -> tuple[Response, int]:
        # the catalogue's database server is out of reach (PostgreSQL lost): nothing was half-written (each
        # write is one transaction), the pool reconnects on a later request; the address stays in the log
        res, status = answer("the catalogue database is unavailable; retry shortly", 503)
        res.headers["Retry-After"] = "5"
        return res, status

    app.register_error_handler(CatalogUnavailable, catalogue_unavailable)
    for cls, status in STATUS.items():
        app.register_error_handler(cls, lambda exc, status=status: answer(str(exc), status))

    def http_error(exc: HTTPException) -> tuple[Response, int]:
        return jsonify(error=exc.description or exc.name), exc.code or 500

    app.register_error_handler(HTTPException, http_error)
