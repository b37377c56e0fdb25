"""The deployment files (Dockerfile, compose.yaml, .dockerignore) hold together: every command they run is a real
`swatch` command with flags it accepts, every SWATCH_* they set is a real setting, every file they copy exists."""

from __future__ import annotations

import re
import shlex
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from swatch.cli import ArgumentParser, CliError, _module
from swatch.config import Settings, env_name

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {env_name(f.name) for f in fields(Settings) if f.name != "extra"}


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _exec_form(args: str) -> list[str]:
    return yaml.safe_load(args) if args.startswith("[") else shlex.split(args)


def _parses(argv: list[str]) -> None:
    """Fails unless argv is a `swatch` subcommand whose own parser accepts these flags."""
    name, *flags = argv
    module = _module(name)
    parser = ArgumentParser(prog=f"swatch {name}")
    module.add_arguments(parser)
    try:
        parser.parse_args(flags)
    except CliError as exc:  # pragma: no cover - the assertion message
        raise AssertionError(f"swatch {' '.join(argv)}: {exc}") from exc


def test_compose_runs_the_documented_topology() -> None:
    services = _compose()["services"]
    assert {"web", "worker", "postgres", "milvus"} <= set(services)
    for name, service in services.items():
        for dep in service.get("depends_on", {}):
            assert dep in services, f"{name} depends on an undefined service {dep}"


@pytest.mark.parametrize("service", ["web", "worker"])
def test_compose_swatch_services_run_real_commands_with_real_settings(service: str) -> None:
    compose = _compose()
    spec = compose["services"][service]
    _parses(list(spec["command"]))
    env = spec["environment"]
    unknown = {key for key in env if key.startswith("SWATCH_")} - SETTINGS
    assert not unknown, f"{service} sets settings Swatch does not have: {sorted(unknown)}"
    assert {"SWATCH_DATABASE_URL", "SWATCH_MILVUS_URI", "SWATCH_DATA_DIR"} <= set(env)
    assert env["SWATCH_JOBS"] == "worker", "with a worker service the web processes must queue jobs, not run them"
    assert env["SWATCH_DATABASE_URL"].startswith("postgresql://")
    data_volumes = {v.split(":")[0] for v in spec["volumes"] if v.split(":")[1] == env["SWATCH_DATA_DIR"]}
    assert data_volumes and data_volumes <= set(compose["volumes"]), "the data folder must be a named volume"


def test_web_and_worker_share_one_data_volume_and_one_image() -> None:
    services = _compose()["services"]
    web, worker = services["web"], services["worker"]
    assert web["image"] == worker["image"]
    assert set(web["volumes"]) == set(worker["volumes"])


def test_dockerfile_installs_the_lock_then_the_project_and_runs_swatch_unprivileged() -> None:
    steps = _dockerfile()
    words = [word for word, _ in steps]
    assert words[0] == "FROM"
    base = steps[0][1]
    assert re.match(r"python:3\.11\b", base), "the image's Python must be the one requires-python and CI use"
    copies = [args.split()[:-1] for word, args in steps if word == "COPY"]
    for sources in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"
    runs = [args for word, args in steps if word == "RUN"]
    lock = next(i for i, args in enumerate(runs) if "-r requirements.txt" in args)
    project = next(i for i, args in enumerate(runs) if "--no-deps" in args)
    assert lock < project, "the pinned lock must be installed before the project"
    user = [args for word, args in steps if word == "USER"]
    assert user and user[-1] not in ("root", "0")
    entry = _exec_form(dict(steps)["ENTRYPOINT"])
    cmd = _exec_form(dict(steps)["CMD"])
    assert entry == ["swatch"]
    _parses(cmd)
    port = cmd[cmd.index("--port") + 1]
    assert port in dict(steps)["EXPOSE"].split()


def test_dockerignore_keeps_live_data_and_the_venv_out_of_the_image() -> None:
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    for path in (".git", ".venv", "catalog.db*", "image_features", "thumbnails", "models", "indexes", "clusters"):
        assert path in ignored, f"{path} would be sent into the image build"
