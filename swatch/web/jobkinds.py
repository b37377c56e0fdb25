"""The job kinds the web starts, each a function of (context, params): what `swatch worker` runs by kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from swatch.clustering.versions import make_cluster_job
from swatch.config import Settings
from swatch.jobs import JobContext

JobFunction = Callable[[JobContext, dict[str, Any]], dict[str, Any]]


def make_train_job(conf: Settings) -> JobFunction:
    """A job function: training parameters (TrainParams as a dict) -> the new pattern version's summary."""

    def run(ctx: JobContext, raw: dict[str, Any]) -> dict[str, Any]:
        from swatch.training.service import TrainParams, train_pattern_version

        info = train_pattern_version(conf, TrainParams.from_mapping(raw), progress=ctx.progress, catalog=ctx.catalog)
        return {k: info[k] for k in ("model", "version", "metrics", "decision", "loss_curve", "data", "seconds")}

    return run


def job_functions(settings: Settings) -> dict[str, JobFunction]:
    """Every kind a web process may queue, by the name it is stored under in `jobs.kind`."""
    return {"cluster": make_cluster_job(settings), "train": make_train_job(settings)}
