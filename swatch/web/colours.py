"""Colour endpoints: POST /api/harmony (designs following a hue rule) and POST /api/search/colors (picked colours)."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from swatch.search.colour_query import parse_colour_query
from swatch.search.harmony import parse_harmony
from swatch.web.context import settings
from swatch.web.params import json_object
from swatch.web.search import engine, respond

bp = Blueprint("colours", __name__)


@bp.post("/api/harmony")
def harmony() -> ResponseReturnValue:
    """Designs whose stored palettes follow a harmony rule around a design's main colour or a picked colour."""
    req = parse_harmony(json_object(), settings())
    result = engine().harmony.search(req)
    resp = jsonify(result.to_json())
    resp.headers["X-Total-Count"] = str(result.total)
    resp.headers["Server-Timing"] = f"app;dur={result.timings['total_ms']:.3f}"
    return resp


@bp.post("/api/search/colors")
def search_colours() -> ResponseReturnValue:
    """Designs with a colour story: up to five picked colours with shares, searched with the colour model."""
    started = time.perf_counter()
    query = parse_colour_query(json_object(), settings())
    return respond(engine().colours.search(query), started)
