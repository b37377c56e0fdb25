"""Request parsing: the JSON body through swatch.bounds, Flask's JSON provider, the `<int:...>` converter."""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

from swatch.bounds import JSON_MAX_BYTES, MAX_INT64, ParamError, loads_json


def json_body(*, required: bool = True, force: bool = False) -> Any:
    """The request's JSON body through loads_json (None when empty and not required); ParamError when bad."""
    if request.content_length is not None and request.content_length > JSON_MAX_BYTES:
        raise ParamError(f"the JSON body is too large: at most {JSON_MAX_BYTES:,} bytes", 413)
    data = request.get_data(cache=True)
    if not data:
        if required:
            raise ParamError("send a JSON object body (Content-Type: application/json)")
        return None
    if not force and not request.is_json:
        raise ParamError("send the body as JSON (Content-Type: application/json)", 415)
    return loads_json(data, "JSON body")


def json_object(*, required: bool = True, force: bool = False) -> dict[str, Any]:
    """json_body() that must be a JSON object ({} when empty and not required)."""
    body = json_body(required=required, force=force)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ParamError("the JSON body must be an object")
    return body


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with loads_json: request.get_json() anywhere gets the same depth and number bounds
    (its size is bounded by MAX_CONTENT_LENGTH; json_body() bounds it to JSON_MAX_BYTES)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads_json(s, max_bytes=None)


class Int64Converter(IntegerConverter):
    """`<int:...>` in routes: ASCII digits only, at most MAX_INT64 (a larger id is a 404, not an OverflowError)."""

    regex = r"[0-9]{1,19}"
    signed_regex = r"-?[0-9]{1,19}"

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_INT64,
                 signed: bool = False) -> None:
        bound = MAX_INT64 if max is None or max > MAX_INT64 else max
        super().__init__(map, fixed_digits, min, bound, signed)


def init_app(app: Flask) -> None:
    """Bounded request parsing everywhere: JSON bodies (depth, numbers) and `<int:...>` ids."""
    app.json = BoundedJSONProvider(app)
    app.url_map.converters["int"] = Int64Converter
