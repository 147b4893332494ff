# Zhitongche: `make run` starts everything; `make test` runs the whole suite. Both work on a
# fresh machine with RabbitMQ and PostgreSQL running (see README).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest -p no:cacheprovider
# Python keeps each module's compiled bytecode (__pycache__, ignored by git) even where the shell
# says not to (PYTHONDONTWRITEBYTECODE): `make test` starts about 200 Python processes (every
# service of every system, the CLIs, the sandboxes), and each compiled the project's modules again.
# Measured on two full runs of `make test` one after the other (2026-12-03): 1,118 CPU s and
# 13 min 9 s without the cache, 1,051 CPU s and 12 min 34 s with it.
unexport PYTHONDONTWRITEBYTECODE
# What `make check` lints with: ruff (rules in pyproject.toml; the code as `ruff format` lays it out), the import rules (import-linter,
# contracts in pyproject.toml) and mypy (its scope in pyproject.toml).
# GNU make already defines LINT, hence the longer name.
LINT_COMMAND ?= $(VENV)/bin/ruff check shared services tests bench examples deploy \
	&& $(VENV)/bin/ruff format --check shared services tests bench examples deploy && $(VENV)/bin/lint-imports && $(VENV)/bin/mypy

# `make test` runs nine lanes at once, each its own pytest (every test has its own vhost and
# databases, and every e2e system its own; the two tests that restart a broker — the chaos short
# form and the broker-restart test — restart a RabbitMQ node of their own, on free ports, which no
# other test feels). Four lanes used about one of the two cores (a lane mostly waits for services
# answering, timers, graceful stops); with nine, on clean clones (2026-11-30: 6 min 36 s and
# 6 min 52 s wall), the lanes end within three minutes of each other and the two cores are the limit. The integration tests are split by folder into three lanes; the e2e
# modules by the system they run on (a module runs in the lane of the other modules of its
# system, so each system starts once in a lane): the shared PostgreSQL one (two lanes, each its
# own; the public API's own system after the second's); the console's SQLite one (two lanes); the
# moved clock's and the calendar's with the chaos run. The fast tiers have a lane of their own. The
# integration lanes (tests/ mirrors the source tree): shared/, the assignment and the evaluation
# services; the engine and the modules at the top named test_[d-m]* (delivery guarantees, forged
# identities, idempotency keys); everything else, a new folder included. (2026-11-30, last: the
# evaluation tests and the public API's moved from the two lanes that ended last, 8:10 and 7:55,
# to the two that ended first, 6:47 and 5:18.)
INTEGRATION_FILES := $(sort $(shell find tests/integration -name 'test_*.py'))
INTEGRATION_1 := $(filter tests/integration/shared/% tests/integration/services/assignment/% \
	tests/integration/services/evaluation/%,$(INTEGRATION_FILES))
INTEGRATION_2 := $(filter tests/integration/services/engine/% \
	$(wildcard tests/integration/test_[d-m]*.py),$(INTEGRATION_FILES))
INTEGRATION_3 := $(filter-out $(INTEGRATION_1) $(INTEGRATION_2),$(INTEGRATION_FILES))
E2E_CONSOLE_1 := tests/e2e/test_console_flow.py tests/e2e/test_console_designer.py tests/e2e/test_console_operator.py \
	tests/e2e/test_console_member.py
E2E_CONSOLE_2 := $(filter-out $(E2E_CONSOLE_1),$(sort $(wildcard tests/e2e/test_console_*.py))) \
	tests/e2e/test_permission_matrix.py
E2E_CLOCKS := tests/e2e/test_performance.py tests/e2e/test_deadlines.py tests/e2e/test_followup_deadlines.py \
	tests/e2e/test_calendar_schedule.py tests/e2e/test_chaos.py
E2E_PUBLIC := tests/e2e/test_public_api.py
E2E_SHARED := $(filter-out $(E2E_CONSOLE_1) $(E2E_CONSOLE_2) $(E2E_CLOCKS) $(E2E_PUBLIC),$(sort $(wildcard tests/e2e/test_*.py)))
E2E_SHARED_1 := $(filter $(sort $(wildcard tests/e2e/test_[a-h]*.py)),$(E2E_SHARED))
E2E_SHARED_2 := $(filter-out $(E2E_SHARED_1),$(E2E_SHARED))
LANES := test-lane-checks test-lane-integration-1 test-lane-integration-2 test-lane-integration-3 \
	test-lane-e2e-shared-1 test-lane-e2e-shared-2 test-lane-e2e-console-1 test-lane-e2e-console-2 test-lane-e2e-clocks
# `make check` runs its tests in two lanes beside the linters: the unit tests of shared/ (the
# property tests of masking and the containment limits among them), the gateway, assignment and the
# engine in the first; the other unit tests (a new folder lands there) with the bpmn and contract
# tiers in the second, and the saved-state test of every diagram's scenarios with them — about
# equal halves of the time (2026-12-03: 56 s and 45 s before that test moved, about 6 s of it).
UNIT_FILES := $(sort $(shell find tests/unit -name 'test_*.py'))
CHECK_1 := $(filter-out tests/unit/shared/workflow/test_serializer_state.py,$(filter tests/unit/shared/% \
	tests/unit/services/gateway/% tests/unit/services/assignment/% tests/unit/services/engine/%,$(UNIT_FILES)))
CHECK_2 := $(filter-out $(CHECK_1),$(UNIT_FILES)) tests/bpmn tests/contract
CHECK_LANES := check-lane-1 check-lane-2 lint

.PHONY: help venv browser assets run serve prepare check $(CHECK_LANES) test $(LANES) test-unit test-bpmn test-contract test-integration test-e2e bench bench-e2e fuzz chaos chaos-short services clean

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
	@$(MAKE) --no-print-directory -k -j9 --output-sync=target $(LANES)

test-lane-checks:
	$(PYTEST) tests/unit tests/bpmn tests/contract

test-lane-integration-1:
	$(PYTEST) $(INTEGRATION_1)

test-lane-integration-2:
	$(PYTEST) $(INTEGRATION_2)

test-lane-integration-3:
	$(PYTEST) $(INTEGRATION_3)

test-lane-e2e-shared-1:
	$(PYTEST) $(E2E_SHARED_1)

test-lane-e2e-shared-2:
	$(PYTEST) $(E2E_SHARED_2) $(E2E_PUBLIC)

test-lane-e2e-console-1:
	$(PYTEST) $(E2E_CONSOLE_1)

test-lane-e2e-console-2:
	$(PYTEST) $(E2E_CONSOLE_2)

test-lane-e2e-clocks:
	$(PYTEST) $(E2E_CLOCKS)


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
