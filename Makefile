# Zhitongche: `make run` starts everything; `make test` runs the whole suite. Both work on a
# fresh machine with RabbitMQ and PostgreSQL running (see README).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest -p no:cacheprovider
# What `make check` lints with: ruff (rules in pyproject.toml; the code as `ruff format` lays it out), the import rules (import-linter,
# contracts in pyproject.toml) and mypy (its scope in pyproject.toml).
# GNU make already defines LINT, hence the longer name.
LINT_COMMAND ?= $(VENV)/bin/ruff check shared services tests bench examples \
	&& $(VENV)/bin/ruff format --check shared services tests bench examples && $(VENV)/bin/lint-imports && $(VENV)/bin/mypy

# `make test` runs four lanes at once, each its own pytest (every test has its own vhost and
# databases, and every e2e system its own), then alone the test that restarts the machine's
# broker, which every vhost on it feels (the chaos short form restarts a node of its own, so it
# runs in a lane). The integration tests are split by file name into two lanes, the
# fast tiers riding with the first; the e2e modules into those on the shared PostgreSQL system
# (and the public API's), and those on the console's SQLite system and the moved clock's and
# calendar's systems: a module runs in the lane of the other modules of its system, so each
# system starts once.
SERIAL := restarts_broker
INTEGRATION_1 := $(sort $(wildcard tests/integration/test_[a-c]*.py))
INTEGRATION_2 := $(filter-out $(INTEGRATION_1),$(sort $(wildcard tests/integration/test_*.py)))
E2E_2 := $(sort $(wildcard tests/e2e/test_console_*.py)) tests/e2e/test_permission_matrix.py \
	tests/e2e/test_performance.py tests/e2e/test_deadlines.py tests/e2e/test_followup_deadlines.py \
	tests/e2e/test_calendar_schedule.py tests/e2e/test_chaos.py
E2E_1 := $(filter-out $(E2E_2),$(sort $(wildcard tests/e2e/test_*.py)))
LANES := test-lane-checks-integration-1 test-lane-integration-2 test-lane-e2e-1 test-lane-e2e-2
# `make check` runs its tests in two lanes (unit tests split by file name into about equal halves,
# the property tests of masking with the first, the bpmn and contract tiers with the second; measured
# 2026-11-30 on a clean clone: 49-52 s and 45-47 s) beside the linters.
CHECK_1 := $(sort $(wildcard tests/unit/test_[a-i]*.py)) tests/unit/test_masking_properties.py
CHECK_2 := $(filter-out $(CHECK_1),$(sort $(wildcard tests/unit/test_*.py))) tests/bpmn tests/contract
CHECK_LANES := check-lane-1 check-lane-2 lint

.PHONY: help venv browser assets run serve prepare check $(CHECK_LANES) test $(LANES) test-serial test-unit test-bpmn test-contract test-integration test-e2e bench bench-e2e fuzz chaos chaos-short services clean

help:
	@echo "make run               start every service and the gateway with demo tokens (Ctrl-C stops them)"
	@echo "make serve             the same without demo tokens (issue them: ztc token ...)"
	@echo "make check             the fast checks: unit, bpmn and contract tests, and \$$(LINT_COMMAND)"
	@echo "make test              the whole test suite (unit, bpmn, contract, integration, e2e, chaos short form)"
	@echo "make test-unit|test-bpmn|test-contract|test-integration|test-e2e   one tier"
	@echo "make bench             bench/engine.py: runtime vs bare SpiffWorkflow, SQLite and PostgreSQL"
	@echo "make bench-e2e         bench/e2e.py: whole lifecycles through every service, beside bare Spiff and bare kombu"
	@echo "make chaos             bench/chaos.py long form: 1000 proposals, 40 SIGKILLs, a broker restart (PostgreSQL)"
	@echo "make fuzz              the API fuzzed deeper than make test does (50 examples per operation; ZTC_FUZZ_EXAMPLES=N)"
	@echo "make chaos-short       the short form CI runs (80 proposals, 12 SIGKILLs of every service, a broker restart)"
	@echo "make services          check (and where possible start) RabbitMQ and PostgreSQL"
	@echo "make browser           install what the console's browser tests need (Debian's chromium, axe-core)"
	@echo "make assets            build the console's diagram viewer (bpmn-js, bundled from package-lock.json)"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

services:
	@bash deploy/local/ensure-services.sh

browser:
	@bash deploy/local/ensure-browser.sh

# The console's diagram viewer (bpmn-js bundled by esbuild from package-lock.json). A machine with
# no npm still runs everything else: the console's diagram pages then say the viewer is not built.
assets:
	@bash deploy/local/ensure-assets.sh || echo "[assets] continuing without the diagram viewer"

# A laptop's demonstration: demo tokens (one per role) are issued. `make serve` runs without them.
run: venv assets
	$(PY) -m services.launcher --demo

serve: venv assets
	$(PY) -m services.launcher

prepare: venv
	$(PY) -m services.launcher --prepare-only

check: venv
	@$(MAKE) --no-print-directory -k -j3 --output-sync=target $(CHECK_LANES)

check-lane-1:
	$(PYTEST) -q $(CHECK_1)

check-lane-2:
	$(PYTEST) -q $(CHECK_2)

lint:
	$(LINT_COMMAND)

test: venv services browser
	@status=0; \
	$(MAKE) --no-print-directory -k -j4 --output-sync=target $(LANES) || status=1; \
	$(MAKE) --no-print-directory test-serial || status=1; \
	exit $$status

test-lane-checks-integration-1:
	$(PYTEST) -m "not ($(SERIAL))" tests/unit tests/bpmn tests/contract $(INTEGRATION_1)

test-lane-integration-2:
	$(PYTEST) -m "not ($(SERIAL))" $(INTEGRATION_2)

test-lane-e2e-1:
	$(PYTEST) -m "not ($(SERIAL))" $(E2E_1)

test-lane-e2e-2:
	$(PYTEST) -m "not ($(SERIAL))" $(E2E_2)

# Only the files that hold such a test are collected (collecting every tier takes a while).
test-serial:
	$(PYTEST) -m "$(SERIAL)" $(shell grep -l "$(SERIAL)" tests/integration/test_*.py tests/e2e/test_*.py)

test-unit: venv
	$(PYTEST) tests/unit

test-bpmn: venv
	$(PYTEST) tests/bpmn

test-contract: venv
	$(PYTEST) tests/contract

test-integration: venv services
	$(PYTEST) tests/integration

test-e2e: venv services browser
	$(PYTEST) tests/e2e

bench: venv services
	$(PY) bench/engine.py

bench-e2e: venv services
	$(PY) bench/e2e.py

chaos: venv services
	$(PY) bench/chaos.py

fuzz: venv services
	ZTC_FUZZ_EXAMPLES=$${ZTC_FUZZ_EXAMPLES:-50} $(PYTEST) tests/e2e/test_api_fuzz.py

chaos-short: venv services
	$(PY) bench/chaos.py --short

clean:
	rm -rf var .pytest_cache
