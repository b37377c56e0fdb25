#!/usr/bin/env bash
# The test command of the README: installs what the tests need (venv, the project, Chromium), lints
# (ruff, mypy) and runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
stale=0
for f in requirements.txt requirements-dev.txt pyproject.toml; do
    if [ ! -f .venv/.installed ] || [ "$f" -nt .venv/.installed ]; then stale=1; fi
done
if [ "$stale" = 1 ]; then  # the pinned lock, then the project itself (editable), as `make setup` does
    python3 -m venv .venv
    .venv/bin/pip install --quiet --upgrade pip
    .venv/bin/pip install --quiet -r requirements-dev.txt
    .venv/bin/pip install --quiet --no-deps --no-build-isolation -e .
    touch .venv/.installed
fi
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "warning: could not install chromium"
fi
# make lint, then the tests: a lint or type error fails the run
.venv/bin/ruff check swatch tests bench *.py
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
