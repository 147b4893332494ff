# Zhitongche: `make run` starts everything; `make test` runs the whole suite. Both work on a
# fresh machine with RabbitMQ and PostgreSQL running (see README).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest -p no:cacheprovider

.PHONY: help venv run prepare test test-unit test-bpmn test-integration test-e2e bench services clean

help:
	@echo "make run               start every service and the gateway (Ctrl-C stops them)"
	@echo "make test              the whole test suite (unit, bpmn, integration, e2e)"
	@echo "make test-unit|test-bpmn|test-integration|test-e2e   one tier"
	@echo "make bench             bench/engine.py: runtime vs bare SpiffWorkflow, SQLite and PostgreSQL"
	@echo "make services          check (and where possible start) RabbitMQ and PostgreSQL"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

services:
	@bash deploy/local/ensure-services.sh

run: venv
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

clean:
	rm -rf var .pytest_cache
