# Zhitongche: `make run` starts everything; `make test` runs the whole suite. Both work on a
# fresh machine with RabbitMQ and PostgreSQL running (see README).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest -p no:cacheprovider

.PHONY: help venv run serve prepare test test-unit test-bpmn test-integration test-e2e bench bench-e2e chaos chaos-short services clean

help:
	@echo "make run               start every service and the gateway with demo tokens (Ctrl-C stops them)"
	@echo "make serve             the same without demo tokens (issue them: ztc token ...)"
	@echo "make test              the whole test suite (unit, bpmn, integration, e2e)"
	@echo "make test-unit|test-bpmn|test-integration|test-e2e   one tier"
	@echo "make bench             bench/engine.py: runtime vs bare SpiffWorkflow, SQLite and PostgreSQL"
	@echo "make bench-e2e         bench/e2e.py: whole lifecycles through every service, beside bare Spiff and bare kombu"
	@echo "make chaos             bench/chaos.py long form: 1000 proposals, 40 SIGKILLs, a broker restart (PostgreSQL)"
	@echo "make chaos-short       the short form CI runs (200 proposals, 12 SIGKILLs, a broker restart)"
	@echo "make services          check (and where possible start) RabbitMQ and PostgreSQL"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

services:
	@bash deploy/local/ensure-services.sh

# A laptop's demonstration: demo tokens (one per role) are issued. `make serve` runs without them.
run: venv
	$(PY) -m services.launcher --demo

serve: venv
	$(PY) -m services.launcher

prepare: venv
	$(PY) -m services.launcher --prepare-only

test: venv services
	$(PYTEST) tests

test-unit: venv
	$(PYTEST) tests/unit

test-bpmn: venv
	$(PYTEST) tests/bpmn

test-integration: venv services
	$(PYTEST) tests/integration

test-e2e: venv services
	$(PYTEST) tests/e2e

bench: venv services
	$(PY) bench/engine.py

bench-e2e: venv services
	$(PY) bench/e2e.py

chaos: venv services
	$(PY) bench/chaos.py

chaos-short: venv services
	$(PY) bench/chaos.py --short

clean:
	rm -rf var .pytest_cache
