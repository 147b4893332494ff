"""Which class runs each service. Imported lazily so a command loads only what it runs."""

from __future__ import annotations

import importlib

SERVICE_CLASSES = {
    "engine": "services.engine.service:EngineService",
    "intake": "services.intake.service:IntakeService",
    "assignment": "services.assignment.service:AssignmentService",
    "supervision": "services.supervision.service:SupervisionService",
    "evaluation": "services.evaluation.service:EvaluationService",
    "gateway": "services.gateway.service:GatewayService",
}
DATABASES = ("engine", "intake", "assignment", "supervision", "evaluation", "gateway")


def service_class(name: str):
    module, _, attr = SERVICE_CLASSES[name].partition(":")
    return getattr(importlib.import_module(module), attr)
