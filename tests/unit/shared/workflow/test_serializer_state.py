"""An instance's saved state is what SpiffWorkflow's serializer makes of it, without the specs:
``workflow_to_dict`` builds it without converting the specs at all, and must give the same
dictionary at every wait of every scenario of the diagrams in ``bpmn/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow

from shared.workflow import scenarios, serializer
from shared.workflow.runtime import WorkflowRuntime

ROOT = Path(__file__).resolve().parents[4]
SUITES = sorted((ROOT / "bpmn").glob("*.scenarios.yaml"))


def as_spiffworkflow_makes_it(workflow: BpmnWorkflow) -> dict[str, Any]:
    dct: dict[str, Any] = serializer.SERIALIZER.to_dict(workflow)
    dct.pop("spec")
    dct.pop("subprocess_specs")
    dct["serializer_version"] = serializer.VERSION
    return dct


class ComparingRuntime(WorkflowRuntime):
    def __init__(self) -> None:
        super().__init__()
        self.compared = 0

    def dumps(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        state = super().dumps(workflow)
        assert state == as_spiffworkflow_makes_it(workflow)
        assert list(state) == list(as_spiffworkflow_makes_it(workflow))  # the same keys, in order
        self.compared += 1
        return state


@pytest.mark.parametrize("path", SUITES, ids=[p.name for p in SUITES])
def test_a_saved_state_is_spiffworkflows_own_without_the_specs(path: Path) -> None:
    suite = scenarios.load(path)
    runtime = ComparingRuntime()
    results = scenarios.run_suite(suite, runtime=runtime)
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]
    assert runtime.compared > len(results)
