#!/usr/bin/env bash
# The test command of the README: installs what the tests need (venv, Chromium) and runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f .venv/.installed ] || [ requirements.txt -nt .venv/.installed ] || [ requirements-dev.txt -nt .venv/.installed ]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --upgrade pip
    .venv/bin/pip install --quiet -r requirements-dev.txt
    touch .venv/.installed
fi
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "warning: could not install chromium"
fi
.venv/bin/ruff check swatch tests bench *.py
.venv/bin/python -m pytest "$@"
