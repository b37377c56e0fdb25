"""One place that turns the domain's refusals into 4xx JSON answers: {"error": "<one line>"}."""

from __future__ import annotations

from flask import Flask, Response, jsonify

from swatch.catalog.feedback import FeedbackError
from swatch.web.params import ParamError

#: refusals without a status of their own; ParamError (and SearchError, FilterError: its subclasses) carry one
STATUS: dict[type[Exception], int] = {FeedbackError: 400}


def answer(message: str, status: int) -> tuple[Response, int]:
    """The JSON error body every refusal uses (the message is one line, cut to a readable length)."""
    return jsonify(error=" ".join(message.split())[:500]), status


def register(app: Flask) -> None:
    """Install the handlers on `app`."""

    def param_error(exc: ParamError) -> tuple[Response, int]:
        return answer(str(exc), exc.status)

    app.register_error_handler(ParamError, param_error)
    for cls, status in STATUS.items():
        app.register_error_handler(cls, lambda exc, status=status: answer(str(exc), status))
