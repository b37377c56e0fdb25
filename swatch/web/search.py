"""Similarity endpoints: /find-similar (catalogue image), /find-similar/refine (marks), /api/search (upload)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from flask import Blueprint, Response, abort, current_app, request
from flask.typing import ResponseReturnValue

from swatch.bounds import NAME_MAX_LEN, ParamError, integer, text
from swatch.catalog.feedback import add_marks
from swatch.search.engine import SearchResult
from swatch.search.params import parse_search_params
from swatch.search.refine import DISLIKED_STARS, LIKED_STARS, parse_marks, refine
from swatch.search.service import SearchEngine
from swatch.web.context import catalog, settings
from swatch.web.params import json_body

bp = Blueprint("search", __name__)
_engine_lock = threading.Lock()


def engine() -> SearchEngine:
    """This app's search engine (indexes, metadata, extractors), created once and shared by all threads."""
    found = current_app.extensions.get("swatch.search")
    if found is None:
        with _engine_lock:
            found = current_app.extensions.get("swatch.search")
            if found is None:
                found = SearchEngine(settings(), catalog())
                current_app.extensions["swatch.search"] = found
    return found


def request_params() -> dict[str, Any]:
    """Query parameters, form fields and a JSON object body merged (the body wins); ParamError (400) for
    malformed, too deep or non-object JSON."""
    out: dict[str, Any] = {}
    for source in (request.args, request.form):
        for key in source:
            values = source.getlist(key)
            out[key] = values if len(values) > 1 else values[0]
    if request.method == "POST" and not request.form and not request.files:
        body = json_body(required=False, force=True)
        if body is not None and not isinstance(body, dict):
            raise ParamError("the JSON body must be an object")
        out.update(body or {})
    return out


def respond(result: SearchResult, started: float) -> Response:
    """The documented body (README, Search API: a JSON list, best first) with paging and timing in headers."""
    resp = Response(json.dumps(result.hits, separators=(",", ":")), mimetype="application/json")
    elapsed = (time.perf_counter() - started) * 1000.0
    resp.headers["X-Total-Count"] = str(result.total)
    resp.headers["X-Page"] = str(result.page)
    resp.headers["X-Top-N"] = str(result.top_n)
    resp.headers["X-Model"] = result.model
    resp.headers["X-Model-Version"] = result.version
    resp.headers["X-Exact"] = "true" if result.exact else "false"
    resp.headers["X-Elapsed-Ms"] = f"{elapsed:.3f}"
    parts = [f"{name[:-3]};dur={value:.3f}" for name, value in result.timings.items() if name.endswith("_ms")]
    resp.headers["Server-Timing"] = ", ".join([*parts, f"app;dur={elapsed:.3f}"])
    return resp


@bp.route("/find-similar", methods=["GET", "POST"])
def find_similar() -> ResponseReturnValue:
    started = time.perf_counter()
    params = request_params()
    ref: str | int | None = None
    if params.get("id") not in (None, ""):
        ref = integer(params["id"], "id")
    else:
        ref = text(params.get("filename"), "filename", max_len=NAME_MAX_LEN, required=False, printable=False)
    if ref is None:
        abort(400, description="give the query image as filename (relative path or file name) or id")
    result = engine().similar_to_image(ref, parse_search_params(params, settings()))
    return respond(result, started)


@bp.post("/api/search")
def search_upload() -> ResponseReturnValue:
    started = time.perf_counter()
    limit = settings().max_upload_bytes
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        abort(413, description=f"upload too large: at most {limit:,} bytes")
    upload = request.files.get("image")
    if upload is None:
        abort(400, description="send the image as multipart form field 'image'")
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        abort(413, description=f"upload too large: at most {limit:,} bytes")
    if not data:
        abort(400, description="the uploaded file is empty")
    result = engine().similar_to_upload(data, parse_search_params(request_params(), settings()))
    return respond(result, started)


@bp.post("/find-similar/refine")
def find_similar_refine() -> ResponseReturnValue:
    """Re-rank the current list at once from yes/no marks (several query designs allowed); marks kept as ratings."""
    started = time.perf_counter()
    params = request_params()
    marks = parse_marks(params)
    search_params = parse_search_params(params, settings())
    result = refine(engine().similar, marks, search_params)
    stored = 0
    if params.get("store", True) is not False and marks.marked:
        stars = {i: LIKED_STARS for i in marks.liked} | {i: DISLIKED_STARS for i in marks.disliked}
        stored = add_marks(catalog(), marks.query_ids, stars, result.model, result.version, params.get("rater"))
    resp = respond(result, started)
    resp.headers["X-Ratings-Stored"] = str(stored)
    return resp
