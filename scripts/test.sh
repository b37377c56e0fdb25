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
# PostgreSQL 15 for the catalogue tests (swatch/testing/postgres.py starts a private server from these binaries)
if [ ! -x /usr/lib/postgresql/15/bin/initdb ] && [ "$(id -u)" = "0" ]; then
    (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null) || echo "warning: could not install postgresql"
fi
# make lint, then the tests: a lint or type error fails the run
.venv/bin/ruff check swatch tests bench *.py
.venv/bin/mypy
if [ "$#" -gt 0 ]; then  # the tests asked for, on the back end SWATCH_TEST_BACKEND names (default sqlite)
    exec .venv/bin/python -m pytest "$@"
fi
# the test matrix: the whole suite on the default back end (SQLite + Faiss), then the API, search, catalogue and
# jobs tests again on each back end of SWATCH_TEST_MATRIX (tests/conftest.py: a back end that cannot start fails)
.venv/bin/python -m pytest
# (the Milvus tests run once, in the first run: their catalogue is beside the point; so does test_postgres_crash,
#  which starts its own PostgreSQL database whatever the back end)
SUBSET=(tests/web/test_api_search.py tests/web/test_api_images.py tests/web/test_api_clusters.py
        tests/web/test_api_training.py tests/web/test_palettes_paging.py tests/web/test_web_health.py
        tests/web/test_fuzz.py tests/search/test_filters.py tests/search/test_index.py
        tests/search/test_refine_marks.py tests/catalog tests/jobs tests/test_jobs_ownership.py
        tests/cli/test_migrate_postgres.py --deselect tests/catalog/test_postgres_crash.py)
# a browser smoke run per back end: the page's catalogue, a search, a stored rating and a hand move
BROWSER_SMOKE=(tests/browser/test_designer_page.py
               -k "loads_thumbnails or clicking_a_design or rating_is_stored or moving_designs_by_hand")
for backend in ${SWATCH_TEST_MATRIX:-postgres postgres+milvus}; do  # postgres+milvus: about 8 min on 2 busy cores
    echo "== SWATCH_TEST_BACKEND=$backend: ${SUBSET[*]}"
    SWATCH_TEST_BACKEND=$backend .venv/bin/python -m pytest -m "not browser" "${SUBSET[@]}"
    SWATCH_TEST_BACKEND=$backend .venv/bin/python -m pytest -m browser "${BROWSER_SMOKE[@]}"
done
