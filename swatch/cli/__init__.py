"""The `swatch` command: one dictionary of subcommands, one error style (`error: ...` lines, exit 2 or 1)."""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn, Protocol, cast

from swatch.catalog.errors import CatalogError
from swatch.config import Settings, SettingsError

BAD_INPUT, WORK_FAILED, INTERRUPTED = 2, 1, 130
DESCRIPTION = ("Swatch, textile design-similarity search. Errors are one `error: ...` line each: exit 2 for "
               "bad input or settings, 1 for a failed run.")


class CliError(Exception):
    """One-line reasons to exit: status 2 (default) for bad input or settings, 1 for a failure of the work."""

    def __init__(self, *lines: str, status: int = BAD_INPUT):
        super().__init__("\n".join(lines))
        self.lines = list(lines)
        self.status = status


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors are one `error: ...` line and exit 2, without the usage text."""

    def error(self, message: str) -> NoReturn:
        raise CliError(message)


class CommandModule(Protocol):
    """What each `swatch.cli.<command>` module offers."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


@dataclass(frozen=True)
class Command:
    """One subcommand: its module is `swatch.cli.<name>`, imported only when the command runs."""

    summary: str
    settings_first: bool = True  # SWATCH_* validated (and logging configured) before the flags are parsed


COMMANDS: dict[str, Command] = {
    "ingest": Command("add new and changed images and their metadata, refresh the feature versions"),
    "cluster": Command("group a feature version into k clusters and save a new cluster version"),
    "train": Command("train a new pattern-model version from designers' ratings and design codes"),
    "serve": Command(
        "serve the app with waitress", settings_first=False
    ),  # reports flags and settings together
    "demo": Command("draw the procedural demo catalogue into a folder", settings_first=False),
    "worker": Command("run the clustering and training jobs a web process queued (SWATCH_JOBS=worker)"),
    "migrate": Command("copy a SQLite catalogue into PostgreSQL in one transaction, verified table by table"),
}


def _module(name: str) -> CommandModule:
    return cast(CommandModule, importlib.import_module(f"swatch.cli.{name}"))


def _parse(argv: list[str], prog: str | None) -> tuple[CommandModule, argparse.Namespace]:
    """The chosen command's module and parsed flags; only that command's module is imported."""
    if prog is not None:  # a documented front end (extract_features.py, python -m swatch.serve, ...)
        name = argv[0]
        parser = ArgumentParser(prog=prog, description=COMMANDS[name].summary)
        module = _module(name)
        module.add_arguments(parser)
        return module, parser.parse_args(argv[1:])
    parser = ArgumentParser(prog="swatch", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=command.summary, description=command.summary)
        if argv and argv[0] == name:
            _module(name).add_arguments(sub_parser)
    args = parser.parse_args(argv)
    return _module(args.command), args


def _parse_and_run(argv: Sequence[str] | None, prog: str | None = None) -> int:
    module, args = _parse(list(argv or []), prog)
    return module.run(args)


def run_guarded(func: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run a command, turning expected failures into `error: ...` lines on stderr and their exit status."""
    try:
        return func(argv)
    except SettingsError as exc:
        return _fail(exc.problems, BAD_INPUT)
    except CatalogError as exc:  # e.g. SWATCH_DATABASE_URL unreachable: one line, the password masked
        return _fail([" ".join(str(exc).split())], BAD_INPUT)
    except CliError as exc:
        return _fail(exc.lines, exc.status)
    except KeyboardInterrupt:
        return _fail(["interrupted"], INTERRUPTED)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0


def run_cli(func: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Validate the settings (an `error:` line per bad value, exit 2), configure logging, run guarded."""
    from swatch.logs import configure_logging

    try:
        configure_logging(Settings.from_env())
    except SettingsError as exc:
        return _fail(exc.problems, BAD_INPUT)
    return run_guarded(func, argv)


def _fail(lines: Sequence[str], status: int) -> int:
    for line in lines:
        print(f"error: {line}", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """`swatch COMMAND [flags]`; returns the exit status. With `prog`, argv[0] names the one command that a
    documented front end (e.g. `extract_features.py`) runs, and its usage shows that name."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = COMMANDS.get(args[0]) if args else None
    run = functools.partial(_parse_and_run, prog=prog)
    if command is not None and command.settings_first:
        return run_cli(run, args)
    return run_guarded(run, args)


def script(command: str, prog: str | None = None) -> NoReturn:
    """The body of a root script or `python -m` front end: run `command` with this process's flags."""
    raise SystemExit(main([command, *sys.argv[1:]], prog=prog or os.path.basename(sys.argv[0])))
