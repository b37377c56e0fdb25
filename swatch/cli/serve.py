"""`swatch serve` (python -m swatch.serve): one waitress process, threads sharing the cached indexes (or N)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import secrets

from swatch.cli import CliError
from swatch.config import Settings, SettingsError

log = logging.getLogger("swatch.serve")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Serve Swatch with waitress."
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--threads", type=int, default=8, help="threads per process (default 8)")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes behind the one socket (default 1: waitress; more: gunicorn)")


def _checked_settings(args: argparse.Namespace) -> Settings:
    """The settings, or a CliError with a line per bad flag, environment variable and setting, in order."""
    problems = []
    if not 0 < args.port < 65536:
        problems.append("--port must be between 1 and 65535")
    if not 0 < args.threads <= 1024:
        problems.append("--threads must be between 1 and 1024")
    if not 0 < args.workers <= 256:
        problems.append("--workers must be between 1 and 256")
    multiproc = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc and not os.path.isdir(multiproc):
        problems.append("PROMETHEUS_MULTIPROC_DIR: must be an existing directory")
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        problems += exc.problems
    if problems:
        raise CliError(*problems)
    if settings.milvus_uri:  # the vector back end must answer before we serve (docs/milvus.md)
        from swatch.search.milvus_client import check_reachable

        if args.workers > 1 and settings.milvus_uri.endswith(".db"):
            raise CliError("SWATCH_MILVUS_URI: a milvus-lite file serves one process; with --workers give a "
                           "Milvus server address (http://host:19530)")
        problem = check_reachable(settings.milvus_uri, float(settings.milvus_timeout_s))
        if problem:
            raise CliError(problem)
    return settings


def run(args: argparse.Namespace) -> int:
    """Validate, configure logging, warm up the active indexes in the background and serve until stopped."""
    settings = _checked_settings(args)
    from swatch.logs import configure_logging

    configure_logging(settings)
    if args.workers > 1:
        return _serve_workers(args, settings)
    from waitress import serve

    from swatch.catalog.db import CatalogError
    from swatch.web import admin_link, create_app

    # a newcomer on their own machine: no token set and only this machine can connect, so a generated token
    # and a one-time link to it (a shared server keeps the token a setting: no link, admin actions refused)
    auto_admin = not settings.admin_token and admin_link.is_loopback(args.host)
    if auto_admin:
        settings = dataclasses.replace(settings, admin_token=secrets.token_urlsafe(32))
    try:
        app = create_app({"SETTINGS": settings})
    except CatalogError as exc:
        raise CliError(str(exc).splitlines()[0]) from exc
    from swatch.web.search import engine

    with app.app_context():
        engine().warm_up_async()  # build the active indexes now, in the background; /readyz says when ready
    log.info("serving on http://%s:%d/ with %d threads", args.host, args.port, args.threads)
    print(f"Swatch on http://{args.host}:{args.port}/  (Ctrl+C stops)", flush=True)
    if auto_admin:
        print("Admin link (logs this browser in for the training page; works once):\n    "
              + admin_link.link(args.host, args.port, admin_link.arm(app)), flush=True)
    serve(app, host=args.host, port=args.port, threads=args.threads, ident="swatch", channel_timeout=60)
    return 0


def _serve_workers(args: argparse.Namespace, settings: Settings) -> int:
    """The catalogue checked (and migrated) once here, then N processes (swatch/cli/serve_workers.py)."""
    from swatch.catalog.db import Catalog, CatalogError
    from swatch.cli.serve_workers import serve_workers

    try:
        Catalog(settings.database).close()  # closed before any fork: no worker inherits a connection
    except CatalogError as exc:
        raise CliError(str(exc).splitlines()[0]) from exc
    status = serve_workers(args, settings)
    if status:
        raise CliError("the server processes failed to start or stopped with an error (see above)", status=1)
    return 0
