# kiln — one entry point for installing, demoing, testing and benchmarking.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pytest workers: all cores, unless the caller says otherwise
WORKERS ?= auto

.PHONY: install demo test test-unit test-e2e lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m compileall -q src
	touch $(STAMP)

demo: install
	$(BIN)/kiln demo

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

test-unit: install
	$(BIN)/pytest -q -n $(WORKERS) -m "not e2e" tests

test-e2e: install
	$(BIN)/pytest -q -n $(WORKERS) -m e2e tests

test: lint test-unit test-e2e

bench: install
	$(BIN)/python benchmarks/bench_validate.py
	$(BIN)/python benchmarks/bench_deploy.py
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_spark.py
	bash scripts/install-wrk.sh
	$(BIN)/python benchmarks/bench_serving.py
	$(BIN)/python benchmarks/bench_monitoring.py
	$(BIN)/python benchmarks/bench_features.py
	$(BIN)/python benchmarks/bench_feature_serving.py
	$(BIN)/python benchmarks/bench_server_load.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info src/*.egg-info
