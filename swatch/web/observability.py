"""Request ids, one access-log line per request, and Prometheus metrics at GET /metrics: `init_app(app)`."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST

from swatch import metrics
from swatch.features.base import MODEL_NAMES
from swatch.logs import REQUEST_ID
from swatch.web.context import catalog

bp = Blueprint("observability", __name__)
access_log = logging.getLogger("swatch.access")
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:=+/@-]{1,128}")
UNMATCHED = "<unmatched>"  # the route label of a request no URL rule matched (a 404 or 405)
PATH_MAX = 512


def init_app(app: Flask) -> None:
    """Register the hooks and /metrics; call it before other request hooks so its timing covers theirs."""
    app.register_blueprint(bp)


def request_id() -> str:
    """This request's id: a sane incoming X-Request-Id, else a new one."""
    found = getattr(g, "request_id", None)
    if found is None:
        incoming = request.headers.get("X-Request-Id", "")
        found = incoming if REQUEST_ID_RE.fullmatch(incoming) else uuid.uuid4().hex
        g.request_id = found
    return found


@bp.before_app_request
def _start() -> None:
    g.request_started = time.perf_counter()
    REQUEST_ID.set(request_id())


@bp.after_app_request
def _finish(response: Response) -> Response:
    started = getattr(g, "request_started", None)
    seconds = time.perf_counter() - started if started is not None else 0.0
    rid = request_id()
    response.headers["X-Request-Id"] = rid
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    model = response.headers.get("X-Model") or request.args.get("model", "")
    model = model if model in MODEL_NAMES else ""
    method = request.method if request.method in _METHODS else "OTHER"
    metrics.REQUEST_SECONDS.labels(route=route, method=method, model=model).observe(seconds)
    metrics.REQUESTS.labels(route=route, method=method, status=str(response.status_code)).inc()
    path = _printable(request.path)
    fields = {"method": method, "path": path, "status": response.status_code,
              "duration_ms": round(seconds * 1000.0, 3), "request_id": rid, "route": route, "model": model,
              "client": request.remote_addr or ""}
    access_log.info("%s %s %s %.1f ms", method, path, response.status_code, seconds * 1000.0,
                    extra={"fields": fields, "in_message": ("method", "path", "status", "duration_ms")})
    return response


@bp.teardown_app_request
def _teardown(_exc: BaseException | None) -> None:
    REQUEST_ID.set(None)  # this thread's next log lines belong to no request


@bp.get("/metrics", endpoint="metrics")
def metrics_view() -> Response:
    return Response(metrics.exposition(catalog()), mimetype=None, content_type=CONTENT_TYPE_LATEST)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _printable(path: str) -> str:
    """The path as one safe log line: control characters escaped, at most PATH_MAX characters."""
    text = path if path.isprintable() else path.encode("unicode_escape").decode("ascii")
    return text if len(text) <= PATH_MAX else text[:PATH_MAX] + "..."
