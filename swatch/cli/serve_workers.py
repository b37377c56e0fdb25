"""`swatch serve --workers N`: N gunicorn processes behind one socket, each with its own app and indexes.

Each worker builds its app after the fork (no torch, SQLite or Faiss state crosses a fork): feature rows are
memory-mapped, so the page cache holds them once for every process. Counters and histograms of all workers
are added up in a metrics folder made for this run (PROMETHEUS_MULTIPROC_DIR), emptied at start.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from swatch.config import Settings

log = logging.getLogger("swatch.serve")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def metrics_dir() -> tuple[Path, bool]:
    """The folder every worker writes its metrics to, emptied now; True when this run made it (and removes it).

    It must be set before any process imports prometheus_client: the master never does, workers do after fork."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        folder = Path(given)
        for stale in folder.glob("*.db"):  # a previous run's counts would be added to this run's
            stale.unlink(missing_ok=True)
        return folder, False
    folder = Path(tempfile.mkdtemp(prefix="swatch-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder, True


def with_worker_pid(app: WsgiApp) -> WsgiApp:
    """The app, with an X-Worker-Pid header naming the process that answered."""
    pid = str(os.getpid())

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            return start_response(status, [*headers, ("X-Worker-Pid", pid)], *exc)

        return app(environ, start)

    return wrapped


def load_worker_app(settings: Settings) -> WsgiApp:
    """In a freshly forked worker: the app, with its active indexes warming up in the background."""
    from swatch.web import create_app
    from swatch.web.search import engine

    app = create_app({"SETTINGS": settings})
    with app.app_context():
        engine().warm_up_async()
    return with_worker_pid(app)


def serve_workers(args: argparse.Namespace, settings: Settings) -> int:
    """Run gunicorn's master with `args.workers` gthread workers until stopped; its exit status (0 on a stop)."""
    from gunicorn.app.base import BaseApplication

    folder, made = metrics_dir()

    class SwatchApplication(BaseApplication):
        def load_config(self) -> None:
            options = {
                "bind": f"{args.host}:{args.port}", "workers": args.workers, "worker_class": "gthread",
                "threads": args.threads, "preload_app": False, "timeout": 120, "graceful_timeout": 10,
                "keepalive": 5, "accesslog": None, "errorlog": "-", "loglevel": "warning", "proc_name": "swatch",
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> WsgiApp:
            return load_worker_app(settings)

    log.info("serving on http://%s:%d/ with %d workers x %d threads (metrics in %s)", args.host, args.port,
             args.workers, args.threads, folder)
    print(f"Swatch on http://{args.host}:{args.port}/  ({args.workers} processes; Ctrl+C stops)", flush=True)
    try:
        SwatchApplication().run()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        if made:
            shutil.rmtree(folder, ignore_errors=True)
    return 0
