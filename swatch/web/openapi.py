"""The OpenAPI 3.1 description (openapi.json beside this file) at /openapi.json and as a page at /api/docs."""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, jsonify, render_template
from flask.typing import ResponseReturnValue
from markupsafe import Markup, escape

from swatch.config import Settings
from swatch.web.context import settings

SPEC_PATH = Path(__file__).with_name("openapi.json")
METHODS = ("get", "post", "put", "patch", "delete")

bp = Blueprint("openapi", __name__)


@dataclass(frozen=True)
class Field:
    """One row of a table: a parameter, a body field or a schema property."""

    name: str
    where: str
    type: str
    required: bool
    description: str


@dataclass(frozen=True)
class Reply:
    status: str
    description: str
    type: str
    headers: tuple[Field, ...]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    anchor: str
    summary: str
    description: str
    admin: bool
    params: tuple[Field, ...]
    body: tuple[str, ...]
    replies: tuple[Reply, ...]


@dataclass(frozen=True)
class Section:
    name: str
    description: str
    operations: tuple[Operation, ...]


@dataclass(frozen=True)
class SchemaDoc:
    name: str
    description: str
    type: str
    fields: tuple[Field, ...]


@functools.cache
def _stored() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


#: the Settings fields that bounds in openapi.json follow: `"x-setting": {"maximum": "max_top_n"}`
SETTING_FIELDS = ("max_top_n", "default_top_n")


def _apply_settings(node: Any, values: dict[str, int]) -> None:
    """Each keyword named in an `x-setting` mapping takes that Settings field's value."""
    if isinstance(node, dict):
        for keyword, name in node.get("x-setting", {}).items():
            node[keyword] = values[name]
        for value in node.values():
            _apply_settings(value, values)
    elif isinstance(node, list):
        for value in node:
            _apply_settings(value, values)


@functools.lru_cache(maxsize=8)
def _spec_text(values: tuple[tuple[str, int], ...]) -> str:
    spec = copy.deepcopy(_stored())
    _apply_settings(spec, dict(values))
    return json.dumps(spec)


def spec_for(conf: Settings) -> dict[str, Any]:
    """The description as this server answers: the stored file with the settings' bounds filled in."""
    return json.loads(_spec_text(tuple((name, int(getattr(conf, name))) for name in SETTING_FIELDS)))


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        node = spec["components"][section][name]
    return node


def describe(schema: dict[str, Any]) -> str:
    """A schema in a few words: `integer 1..1000 (default 100)`, `list of Hit`, `one of: cosine, euclidean`."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    for key, word in (("oneOf", " or "), ("anyOf", " or "), ("allOf", " + ")):
        if key in schema:
            return word.join(describe(s) for s in schema[key])
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        text = "one of: " + ", ".join(str(v) for v in schema["enum"])
    else:
        kinds = schema.get("type", "any")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        text = " or ".join(f"list of {describe(schema.get('items', {}))}" if k == "array" else k for k in kinds)
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if lo is not None or hi is not None:
            text += f" {'' if lo is None else lo}..{'' if hi is None else hi}"
        if "maxLength" in schema:
            text += f", at most {schema['maxLength']} characters"
        if "maxItems" in schema:
            text += f", at most {schema['maxItems']} items"
        if "pattern" in schema:
            text += f" matching {schema['pattern']}"
    if "default" in schema:
        text += f" (default {json.dumps(schema['default'])})"
    return text


def _properties(spec: dict[str, Any], schema: dict[str, Any], where: str = "body") -> list[Field]:
    schema = _resolve(spec, schema)
    out: list[Field] = []
    for part in schema.get("allOf", []):
        out += _properties(spec, part, where)
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        out.append(Field(name, where, describe(prop), name in required, prop.get("description", "")))
    return out


def _param(spec: dict[str, Any], raw: dict[str, Any]) -> Field:
    p = _resolve(spec, raw)
    if "content" in p:
        kind = describe(next(iter(p["content"].values()))["schema"]) + " as JSON text"
    else:
        kind = describe(p["schema"])
    return Field(p["name"], p["in"], kind, bool(p.get("required")), p.get("description", ""))


def _operation(spec: dict[str, Any], path: str, method: str, raw: dict[str, Any]) -> Operation:
    body = []
    if "requestBody" in raw:
        for media, content in raw["requestBody"]["content"].items():
            body.append(f"{media}: {describe(content['schema'])}")
    replies = []
    for status, reply in raw["responses"].items():
        reply = _resolve(spec, reply)
        media = [f"{m}: {describe(c['schema'])}" for m, c in reply.get("content", {}).items()]
        headers = tuple(Field(n, "header", describe(h["schema"]), False, h.get("description", ""))
                        for n, h in reply.get("headers", {}).items())
        replies.append(Reply(status, reply["description"], "; ".join(media), headers))
    return Operation(method.upper(), path, raw["operationId"].replace(".", "-"), raw["summary"],
                     raw.get("description", ""), bool(raw.get("security")),
                     tuple(_param(spec, p) for p in raw.get("parameters", [])), tuple(body), tuple(replies))


def sections(spec: dict[str, Any]) -> list[Section]:
    """The operations grouped by tag, in the tags' order, for the page."""
    by_tag: dict[str, list[Operation]] = {t["name"]: [] for t in spec.get("tags", [])}
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                by_tag.setdefault(item[method]["tags"][0], []).append(_operation(spec, path, method, item[method]))
    notes = {t["name"]: t.get("description", "") for t in spec.get("tags", [])}
    return [Section(name, notes.get(name, ""), tuple(ops)) for name, ops in by_tag.items() if ops]


def schema_docs(spec: dict[str, Any]) -> list[SchemaDoc]:
    """Every named schema with its properties, for the page."""
    return [SchemaDoc(name, s.get("description", ""), "object" if "properties" in s or "allOf" in s else describe(s),
                      tuple(_properties(spec, s, ""))) for name, s in spec["components"]["schemas"].items()]


_CODE = re.compile(r"`([^`]+)`")
_NAME = re.compile(r"\b[A-Z][A-Za-z]+\b")


@bp.app_template_filter("api_text")
def api_text(text: str) -> Markup:
    """Escaped text with `backticks` as <code>."""
    return Markup(_CODE.sub(r"<code>\1</code>", str(escape(text))))


@bp.app_template_filter("api_type")
def api_type(text: str) -> Markup:
    """Escaped type words with the names of the description's schemas linked to them."""
    names = _stored()["components"]["schemas"]
    return Markup(_NAME.sub(lambda m: f'<a href="#schema-{m[0]}">{m[0]}</a>' if m[0] in names else m[0],
                            str(escape(text))))


@bp.get("/openapi.json")
def spec() -> ResponseReturnValue:
    return jsonify(spec_for(settings()))


@bp.get("/api/docs")
def docs() -> ResponseReturnValue:
    spec = spec_for(settings())
    return render_template("api_docs.html", info=spec["info"], sections=sections(spec), schemas=schema_docs(spec),
                           security=spec["components"]["securitySchemes"])


def init_app(app: Flask) -> None:
    """Serve the description and its page."""
    app.register_blueprint(bp)
