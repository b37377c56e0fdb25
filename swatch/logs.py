"""Logging, configured once per process: plain text or JSON lines on stderr, with request ids and secrets masked."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from swatch.config import MASK, Settings

#: the id of the request this thread or task is answering (set by swatch.web.observability)
REQUEST_ID: ContextVar[str | None] = ContextVar("swatch_request_id", default=None)
HANDLER_NAME = "swatch"
QUIET_BELOW_DEBUG = ("faiss.loader",)
MIN_MASKED = 4  # shorter secrets are not searched for in log lines (they would mask ordinary words)


class LineFormatter(logging.Formatter):
    """One line per record (a traceback follows a plain line; it is a field of a JSON one). A record's `fields`
    (a dict passed as extra={"fields": ...}) become JSON members, or key=value pairs after a plain message (less
    the empty ones and those named in extra={"in_message": (...)}, already in it); secrets become ***."""

    def __init__(self, kind: str = "plain", secrets: Sequence[str] = ()):
        super().__init__()
        self.kind = kind
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_MASKED}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = dict(getattr(record, "fields", None) or {})
        request_id = REQUEST_ID.get()
        if request_id and "request_id" not in fields:
            fields["request_id"] = request_id
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        trace = self.formatException(record.exc_info) if record.exc_info else ""
        if self.kind == "json":
            body: dict[str, Any] = {"time": stamp, "level": record.levelname, "logger": record.name,
                                    "message": record.getMessage(), **fields}
            if trace:
                body["exception"] = trace
            text = json.dumps(body, default=str, ensure_ascii=False)
        else:
            shown = set(getattr(record, "in_message", ()))
            pairs = "".join(f" {key}={_plain(value)}" for key, value in fields.items()
                            if key not in shown and value not in ("", None))
            text = f"{stamp} {record.levelname} {record.name}: {record.getMessage()}{pairs}"
            if trace:
                text += "\n" + trace
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


class StderrHandler(logging.Handler):
    """Writes to the current sys.stderr at each record (never to a stream replaced and closed since)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - logging never breaks the caller
            self.handleError(record)


def configure_logging(settings: Settings) -> logging.Handler:
    """Send every logger's records (waitress's included) to stderr in `settings.log_format` at
    `settings.log_level`; calling it again replaces the handler it installed. Returns that handler."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    handler = StderrHandler()
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(LineFormatter(settings.log_format, settings.secrets()))
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for chatty in QUIET_BELOW_DEBUG:  # their INFO lines say nothing an operator acts on
        logging.getLogger(chatty).setLevel(logging.NOTSET if settings.log_level == "DEBUG" else logging.WARNING)
    return handler


def _plain(value: Any) -> str:
    text = str(value)
    if text and all(c.isprintable() and c not in ' "=' for c in text):
        return text
    return json.dumps(text, ensure_ascii=False)
