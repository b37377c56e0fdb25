"""The one way to read outside values: bounded integers, finite floats, text, depth-limited JSON (ParamError)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

#: SQLite's INTEGER is signed 64-bit: an id beyond this cannot exist (and SQLite raises OverflowError on it)
MAX_INT64 = 2**63 - 1
MIN_INT64 = -(2**63)
JSON_MAX_DEPTH = 32
JSON_MAX_BYTES = 2 * 1024 * 1024
NAME_MAX_LEN = 4096  # characters of an image's file name or relative path in a request
MAX_NUMBER_TEXT = 40  # characters of a number's text; longer is refused before conversion

_INT_TEXT = re.compile(r"[+-]?[0-9]{1,19}")
_FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPEN = np.frombuffer(b"[{", np.uint8)
_CLOSE = np.frombuffer(b"]}", np.uint8)


class ParamError(ValueError):
    """A value that is malformed or out of range; `status` is the HTTP status to answer (400, 413, 415)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _shown(value: object) -> str:
    return repr(value if not isinstance(value, str) else value[:40])


def integer(value: object, name: str, *, low: int = 1, high: int = MAX_INT64, default: int | None = None) -> int:
    """An int from JSON (int, not bool or float) or text of ASCII digits; `default` when absent, else ParamError."""
    if value is None or value == "":
        if default is None:
            raise ParamError(f"{name} is required")
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ParamError(f"{name} must be an integer, got {_shown(value)}")
    if isinstance(value, str):
        text = value.strip()
        if not _INT_TEXT.fullmatch(text):
            raise ParamError(f"{name} must be an integer from {low} to {high}, got {_shown(value)}")
        value = int(text)
    if value < low:
        raise ParamError(f"{name} must be an integer of at least {low}")
    if value > high:
        raise ParamError(f"{name} must be at most {high}")
    return value


def optional_integer(value: object, name: str, *, low: int = 1, high: int = MAX_INT64) -> int | None:
    """integer(), or None when the value is absent."""
    return None if value is None or value == "" else integer(value, name, low=low, high=high)


def number(value: object, name: str, *, low: float, high: float, default: float | None = None) -> float:
    """A finite float in [low, high] from a JSON number (not bool) or ASCII decimal text; ParamError otherwise."""
    if value is None or value == "":
        if default is None:
            raise ParamError(f"{name} is required")
        return default
    message = f"{name} must be a number from {low:g} to {high:g}"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ParamError(message)
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_NUMBER_TEXT or not _FLOAT_TEXT.fullmatch(text):
            raise ParamError(f"{message}, got {_shown(value)}")
        value = float(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise ParamError(message)
    if not low <= value <= high:  # compared before float(): a huge int never overflows
        raise ParamError(message)
    return float(value)


def text(value: object, name: str, *, max_len: int = 200, required: bool = True, printable: bool = True) -> str | None:
    """A string, stripped, 1..max_len long (of printable characters unless told); None when absent and not
    required."""
    if value is None or value == "":
        if required:
            raise ParamError(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise ParamError(f"{name} must be a text, got a JSON {type(value).__name__}")
    value = value.strip()
    if not value or len(value) > max_len or (printable and not value.isprintable()):
        raise ParamError(f"{name} must be 1 to {max_len}{' printable' if printable else ''} characters")
    return value


def json_depth(text_: str) -> int:
    """The deepest nesting of arrays and objects in JSON text (brackets inside strings do not count)."""
    codes = np.frombuffer(_JSON_STRING.sub('""', text_).encode("utf-8", "surrogatepass"), np.uint8)
    step = np.isin(codes, _OPEN).astype(np.int64) - np.isin(codes, _CLOSE)
    return int(np.cumsum(step).max(initial=0))


def _json_int(raw: str) -> int:
    if len(raw) > 20 or not MIN_INT64 <= int(raw) <= MAX_INT64:
        raise ParamError("integers in JSON must lie within the signed 64-bit range")
    return int(raw)


def _json_float(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise ParamError(f"numbers in JSON must be finite, got {raw[:40]}")
    return value


def _json_constant(raw: str) -> Any:
    raise ParamError(f"{raw} is not JSON")


def loads_json(data: str | bytes, what: str = "JSON", max_bytes: int | None = JSON_MAX_BYTES) -> Any:
    """Parse JSON text of at most `max_bytes` and JSON_MAX_DEPTH levels, with bounded, finite numbers."""
    if max_bytes is not None and len(data) > max_bytes:
        raise ParamError(f"{what} is too large: at most {max_bytes:,} bytes", 413)
    if isinstance(data, bytes):
        try:
            data = data.decode(json.detect_encoding(data))
        except (UnicodeDecodeError, LookupError):
            raise ParamError(f"{what} is not UTF-8 text") from None
    if json_depth(data) > JSON_MAX_DEPTH:
        raise ParamError(f"{what} is nested too deeply: at most {JSON_MAX_DEPTH} levels")
    try:
        return json.loads(data, parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant)
    except ParamError:
        raise
    except (ValueError, RecursionError) as exc:
        raise ParamError(f"malformed {what}: {str(exc.args[0] if exc.args else exc)[:200]}") from None
