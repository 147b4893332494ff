"""The BPMN tier drives diagrams with the designers' own driver (``shared.workflow.testing``): every
input goes through a save/restore first, jobs are answered by hand, user tasks are completed
through their forms, timers fire on a skipping clock. Scenario files (``bpmn/*.scenarios.yaml``) use
the same driver through ``ztc test``."""

from shared.workflow.testing import Instance, ScenarioFailure  # noqa: F401 - re-exported for the tests
