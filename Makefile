# alstream — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRA ?= cpu
comma := ,
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.DEFAULT_GOAL := help

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# One step of the venv build: says what it does, shows pip's "Collecting ..." lines as progress
# (pip --quiet used to leave a first `make run` silent for minutes) and how long it took.
define step
	@echo "==> $(1)"; start=$$(date +%s); set -o pipefail; \
	if $(2) 2>&1 | { grep --line-buffered -E '^(Collecting|Successfully installed|ERROR|error:)' \
	  | sed -u -e 's/^/    /' -e 's/^\(.\{110\}\).*/\1.../' || true; }; \
	then echo "    done in $$(( $$(date +%s) - start ))s"; \
	else echo "    failed after $$(( $$(date +%s) - start ))s: $(2)"; exit 1; fi
endef

# torch first, pinned: PyPI's build, which runs on the CPU but also brings CUDA libraries (most
# of the 6 GB; docs/production.md has its cost).
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "alstream needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1)." \
	       "Run: make PYTHON=python3.11 $(MAKECMDGOALS)"; exit 1; }
	@echo "==> Building $(VENV) (first run only: several minutes, about 6 GB on disk)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(call step,[1/3] pip,$(PY) -m pip install --upgrade pip)
	$(call step,[2/3] torch 2.13.0 (the largest download),$(PY) -m pip install torch==2.13.0)
	$(call step,[3/3] alstream and its dependencies ($(EXTRA)$(comma)dev),$(PY) -m pip install -e ".[$(EXTRA)$(comma)dev]")
	@touch $(STAMP)
	@echo "==> $(VENV) is ready"

venv: $(STAMP) ## Create the virtualenv and install the project (EXTRA=cpu|gpu)

data: $(STAMP) ## Fetch 20 Newsgroups and Reuters R8 into .cache/data (never committed)
	$(PY) -c "from services.common.datasets import ensure_datasets; print(ensure_datasets())"

run: $(STAMP) ## Start the embedded stack (all services, one process, no Kafka/Redis)
	@$(PY) -m services.cli run

demo: $(STAMP) data ## The whole loop in a few minutes: real data, simulated reviewer, PNG
	@$(PY) -m services.cli demo

settings-table: $(STAMP) ## Regenerate README.md's table of every ALSTREAM_ setting
	$(PY) -m services.cli.settings_table --write

kafka: ## Fetch the Apache Kafka broker jars (Maven Central) into .cache/kafka
	bash scripts/kafka.sh fetch

test: $(STAMP) data kafka redis ops-tools ## Run the whole suite: unit, contract, integration, end to end
	$(PY) -m pytest -q -ra --timeout=600 --durations=15

test-unit: $(STAMP) ## Fast unit tests only (no Kafka, Redis or model-heavy tests)
	$(PY) -m pytest -q -ra tests/unit tests/contract -m "not integration and not e2e"

test-integration: $(STAMP) data kafka redis ## Integration tests against real Kafka (KRaft) and Redis
	$(PY) -m pytest -q -ra -m integration

test-e2e: $(STAMP) data ## End-to-end tests on the embedded stack with the real model
	$(PY) -m pytest -q -ra -m e2e

fuzz: $(STAMP) ## Schemathesis (all checks, with keys) on every service's OpenAPI; FUZZ_EXAMPLES=200
	ALSTREAM_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} $(PY) -m pytest -q -ra tests/fuzz -p no:cacheprovider

lint: $(STAMP) ## ruff and mypy
	$(VENV)/bin/ruff check services tests
	$(VENV)/bin/mypy

up: $(STAMP) kafka redis ## Start the production-like stack: Kafka, Redis, one process per service
	bash scripts/stack_up.sh

down: ## Stop what `make up` started
	bash scripts/stack_down.sh

bench: $(STAMP) data ## Scorer benchmarks; writes docs/benchmarks.{md,json}
	bash scripts/bench.sh

eval: $(STAMP) data ## Selection-strategy evaluation; writes docs/evaluation.md and plots
	bash scripts/eval.sh

ops-check: $(STAMP) ops-tools ## Chart, images, alerts and dashboard checks only (tests/deploy)
	$(PY) -m pytest -q -ra tests/deploy

images: ## Lint the Dockerfile; build the CPU and GPU images where a Docker engine exists
	bash scripts/images.sh

redis: ## redis-server from Debian when missing (the test fixtures start it on 6379)
	command -v redis-server >/dev/null || \
		(apt-get update -q && apt-get install -y -q redis-server) || \
		{ echo "redis-server missing: apt-get install redis-server (as root)" >&2; exit 1; }

ops-tools: ## checkov in .venv-ops (its pins clash with ours); promtool from Debian if root
	test -x .venv-ops/bin/checkov || ($(PYTHON) -m venv .venv-ops && \
		.venv-ops/bin/pip install --quiet checkov==3.3.30)
	command -v promtool >/dev/null || [ "$$(id -u)" != 0 ] || \
		(apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1 || \
		 (apt-get update -q >/dev/null && \
		  apt-get install -y -q --no-install-recommends prometheus >/dev/null)) || \
		echo "promtool not installed: tests/deploy/test_alert_rules.py will skip"

clean: ## Remove caches and run state (keeps the venv)
	rm -rf .run .pytest_cache .mypy_cache .ruff_cache

.PHONY: help venv data kafka run demo settings-table test test-unit test-integration test-e2e fuzz \
	lint up down bench eval images redis ops-tools ops-check clean
