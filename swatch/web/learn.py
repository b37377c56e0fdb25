"""Help Swatch learn: GET /api/learn/queue offers the result pairs whose rating would teach the model most."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue

from swatch.bounds import integer
from swatch.catalog.images import image_json
from swatch.features.store import FeatureStore
from swatch.training.queue import MAX_PAIRS, QueueError, teaching_pairs
from swatch.web.context import catalog, settings

bp = Blueprint("learn", __name__)


@bp.get("/api/learn/queue")
def learn_queue() -> ResponseReturnValue:
    model = request.args.get("model", "pattern")
    if model != "pattern":
        abort(400, description="only the pattern model learns from ratings")
    n = integer(request.args.get("n"), "n", low=1, high=MAX_PAIRS, default=10)
    try:
        version, pairs = teaching_pairs(catalog(), FeatureStore(settings().features_dir), n=n, model=model)
    except QueueError as exc:
        abort(409, description=str(exc))
    rows = catalog().images_by_ids(sorted({i for p in pairs for i in (p.query_id, p.result_id)}))
    out = [{"query": image_json(rows[p.query_id]), "result": image_json(rows[p.result_id]),
            "similarity": p.similarity, "reason": p.reason, "score": round(p.score, 4)}
           for p in pairs if p.query_id in rows and p.result_id in rows]
    message = ("rate each pair with the same 1-5 stars as results (POST /api/feedback)" if out else
               "nothing left to ask: every nearby pair is rated or shares a design code")
    return jsonify(model=model, version=version, pairs=out, message=message)
