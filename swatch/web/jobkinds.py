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


def make_ingest_job(conf: Settings) -> JobFunction:
    """A job function: {"folders": [registered folder ids]} -> each folder ingested in turn (progress per stage,
    cancel between images: a cancelled folder publishes nothing), its stats recorded and its alert cleared."""

    def run(ctx: JobContext, raw: dict[str, Any]) -> dict[str, Any]:
        import time
        from pathlib import Path

        from swatch.catalog.folders import get_folder
        from swatch.ingest import ingest
        from swatch.search.cache import prepare_on_publish
        from swatch.watch import check_one, record_baseline

        prepare_on_publish(conf.features_dir, conf.data_dir / "indexes", conf.exact_index_max_rows)  # as the CLI
        ids = [int(i) for i in raw.get("folders", [])]
        done: list[dict[str, Any]] = []
        for k, folder_id in enumerate(ids):
            folder = get_folder(ctx.catalog, folder_id)
            if folder is None:
                raise ValueError(f"folder {folder_id} is not registered")
            name = Path(folder.root).name

            def step(message: str, fraction: float, k: int = k, name: str = name) -> None:
                ctx.progress((k + fraction) / len(ids), f"{name}: {message}")

            metadata = Path(folder.metadata_file) if folder.metadata_file else None
            started = time.time_ns()
            summary = ingest(Path(folder.root), conf, metadata_file=metadata if metadata and metadata.is_file()
                             else None, progress=False, log=lambda line: None, step=step)
            record_baseline(ctx.catalog, folder_id, started)
            check_one(conf, ctx.catalog, folder_id)
            done.append({"folder": folder_id, "name": name, "added": summary.added, "changed": summary.changed,
                         "removed": summary.removed, "unchanged": summary.unchanged, "failed": len(summary.failed),
                         "versions": summary.versions})
            ctx.progress((k + 1) / len(ids), f"{name}: {summary.line()}")
        return {"folders": done}

    return run


def make_remove_folder_job(conf: Settings) -> JobFunction:
    """A job function: {"folder": id} -> the folder and its designs marked removed, feature versions without them."""

    def run(ctx: JobContext, raw: dict[str, Any]) -> dict[str, Any]:
        from swatch.search.cache import prepare_on_publish
        from swatch.watch import remove_folder_designs

        prepare_on_publish(conf.features_dir, conf.data_dir / "indexes", conf.exact_index_max_rows)
        ctx.progress(0.1, "removing the folder's designs")
        return remove_folder_designs(conf, ctx.catalog, int(raw["folder"]))

    return run


def job_functions(settings: Settings) -> dict[str, JobFunction]:
    """Every kind a web process may queue, by the name it is stored under in `jobs.kind`."""
    return {"cluster": make_cluster_job(settings), "train": make_train_job(settings),
            "ingest": make_ingest_job(settings), "remove-folder": make_remove_folder_job(settings)}
