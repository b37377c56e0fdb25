# Swatch: make setup | demo | run | test | lint | bench
PY ?= .venv/bin/python
PORT ?= 8000
DEMO_DIR ?= demo_catalogue
# the demo's own data folder (SWATCH_DATA_DIR for demo and run): the demo never mixes into a house's catalogue
DEMO_DATA ?= demo_data

.PHONY: setup demo run dev test lint bench clean-data

# the pinned lock first, then the project itself (editable: the `swatch` command runs this checkout)
.venv/.installed: requirements.txt requirements-dev.txt pyproject.toml
	python3 -m venv .venv
	.venv/bin/pip install --quiet --upgrade pip
	.venv/bin/pip install --quiet -r requirements-dev.txt
	.venv/bin/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

setup: .venv/.installed

demo: setup
	$(PY) -m swatch.demo --out $(DEMO_DIR)
	SWATCH_DATA_DIR=$(DEMO_DATA) $(PY) extract_features.py --images $(DEMO_DIR)

run: demo
	SWATCH_DATA_DIR=$(DEMO_DATA) $(PY) -m swatch.serve --port $(PORT)

dev: setup
	.venv/bin/flask --app app run --port $(PORT) --debug

test: setup
	bash scripts/test.sh

lint: setup
	.venv/bin/ruff check swatch tests bench *.py
	.venv/bin/mypy

bench: setup
	$(PY) bench/search_latency.py --quick
	$(PY) bench/ingest.py --limit 300
	$(PY) bench/cluster.py --n 50000 --k 50
