# Greenscreen developer entry points. `make demo` and `make test` work on a fresh machine:
# they create .venv, install the Python requirements and Azurite (npm), then run.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.requirements-installed
NODE_STAMP := node_modules/.package-lock.json

.PHONY: setup test check format lint typecheck demo bench bench-100k clean

setup: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# --no-compile: the Graph SDKs hold ~50,000 modules; Python compiles the few it imports on use.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

test: setup
	$(BIN)/python -m pytest

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy

check: lint typecheck test

demo: setup
	$(BIN)/python -m samples.demo

# The 20,000-device rows of the goal table: the mirror, one change through `process_change`, and
# the cost table (docs/scale.md) measured on the full-size tenant, not extrapolated.
bench: setup
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.rules
	$(BIN)/python -m bench.check
	$(BIN)/python -m bench.store --scale 1
	$(BIN)/python -m bench.mirror --scale 1
	$(BIN)/python -m bench.change_scale --scale 1
	$(BIN)/python -m bench.guardrail
	$(BIN)/python -m bench.attribution
	$(BIN)/python -m bench.scale --synthetic-scale 1
	$(MAKE) bench-100k

# 100,000 devices, 5,000 apps, 20,000 groups: check in every format, export from the simulator,
# the guardrail baseline on Azurite. Takes 5-12 minutes on two cores; `make bench` runs it last.
bench-100k: setup
	$(BIN)/python -m bench.scale100k

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache out
