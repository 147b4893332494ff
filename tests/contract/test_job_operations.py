"""The contracts, the diagrams and the services agree on every job operation."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from services.engine.engine import Engine
from services.registry import SERVICE_CLASSES, service_class
from shared.config import ROOT
from shared.contracts import jobs
from shared.errors import DiagramRefused
from shared.workflow.contract_checks import check_operations
from tests.unit.shared.workflow.bpmn_documents import service_process

DIAGRAMS = sorted((ROOT / "bpmn").glob("*.bpmn"))


def _handled_operations() -> dict[str, str]:
    """``{operation: service}`` of every ``@job`` entrypoint of every service."""
    from shared.messaging.entrypoints import JobEntrypoint

    found = {}
    for name in SERVICE_CLASSES:
        for _, member in inspect.getmembers(service_class(name), inspect.isfunction):
            for entrypoint in getattr(member, "nameko_entrypoints", ()):
                if isinstance(entrypoint, JobEntrypoint):
                    found[entrypoint.operation] = name
    return found


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.name)
def test_every_service_task_of_a_product_diagram_names_a_declared_operation_with_its_parameters(path: Path):
    assert check_operations({path.name: path.read_bytes()}) == []


def test_every_declared_operation_has_one_handler_in_the_service_it_names():
    handled = _handled_operations()
    assert set(handled) == set(jobs.OPERATIONS), (
        f"declared but not handled: {sorted(set(jobs.OPERATIONS) - set(handled))}; "
        f"handled but not declared: {sorted(set(handled) - set(jobs.OPERATIONS))}"
    )
    for operation, service in handled.items():
        assert jobs.get(operation).service == service


def test_a_handler_for_an_undeclared_operation_is_refused_at_import():
    from shared.messaging.entrypoints import job

    with pytest.raises(ValueError, match="not declared in shared/contracts/jobs"):
        job("intake.find_duplicats")(lambda self, params, principal: None)


def _deploy_problems(document: str) -> list[str]:
    with pytest.raises(DiagramRefused) as refused:
        Engine(None, None).validate({"typo.bpmn": document})
    return refused.value.details["problems"]


def test_an_operation_typo_is_refused_at_deploy_with_line_label_and_the_right_name():
    document = service_process("intake.find_duplicats", "proposal_id")
    [problem] = _deploy_problems(document)
    line = next(n for n, text in enumerate(document.splitlines(), 1) if 'id="record"' in text)
    assert f"typo.bpmn:{line}:" in problem
    assert "'record'" in problem and "Record the submission" in problem
    assert "intake.find_duplicats" in problem and "did you mean 'intake.find_duplicates'?" in problem


def test_a_missing_and_an_unknown_parameter_are_refused_at_deploy():
    document = (
        service_process("intake.record_filing", "proposal_id")
        .replace('<spiffworkflow:parameter id="title"', '<spiffworkflow:parameter id="proposal_id"')
        .replace(
            "</spiffworkflow:parameters>",
            '<spiffworkflow:parameter id="colour" type="str" value="\'red\'"/></spiffworkflow:parameters>',
        )
    )
    problems = _deploy_problems(document)
    assert any("needs the parameter(s) decided_by, decision" in p for p in problems), problems
    assert any("takes no parameter(s) colour" in p for p in problems), problems


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.name)
def test_every_message_of_a_product_diagram_is_declared_with_a_sender(path: Path):
    from shared.contracts import messages
    from shared.workflow.contract_checks import check_messages

    assert check_messages({path.name: path.read_bytes()}) == []
    for name in messages.MESSAGES.values():
        assert name.senders, name


def test_a_renamed_message_is_refused_at_deploy_naming_the_declared_one():
    document = (
        (ROOT / "bpmn" / "proposal.bpmn")
        .read_text(encoding="utf-8")
        .replace('name="reply_submitted"', 'name="unit_reply_submitted"')
    )
    problems = _deploy_problems(document)
    assert any(
        "message 'unit_reply_submitted' is not declared" in p
        and "did you mean 'reply_submitted'?" in p
        and "typo.bpmn:" in p
        for p in problems
    ), problems


def test_the_services_send_only_declared_messages():
    """Every message name a service sends is a constant of shared/contracts/messages.py."""
    import re

    from shared.contracts import messages

    sent = set()
    for path in (ROOT / "services").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        sent |= set(re.findall(r"send_message\(session, Outbox, (?:name=)?\"([a-z_]+)\"", text))
        sent |= {getattr(messages, c) for c in re.findall(r"messages\.([A-Z_]+)", text)}
    assert sent and sent <= set(messages.MESSAGES), sent - set(messages.MESSAGES)


def test_four_everyday_mistakes_are_refused_in_one_deploy_each_with_line_and_label():
    """An operation typo, a bad timer literal, an unknown message and a dangling flow, all at once."""
    document = (
        (ROOT / "bpmn" / "proposal.bpmn")
        .read_text(encoding="utf-8")
        .replace('serviceTaskOperator id="intake.find_duplicates"', 'serviceTaskOperator id="intake.find_duplicats"')
        .replace("<bpmn:timeDate>cosign_due</bpmn:timeDate>", "<bpmn:timeDuration>'P3 days'</bpmn:timeDuration>")
        .replace('name="reply_submitted"', 'name="unit_reply_submitted"')
        .replace('sourceRef="gw_joint" targetRef="sole_proposer"', 'sourceRef="gw_joint" targetRef="sole_proposr"')
    )
    problems = _deploy_problems(document)
    expected = ("intake.find_duplicats", "'P3 days'", "unit_reply_submitted", "sole_proposr")
    for fragment in expected:
        [problem] = [p for p in problems if fragment in p]
        line = problem.split(":")[1]
        assert problem.startswith("typo.bpmn:") and line.isdigit(), problem
        assert '"' in problem, f"no label in: {problem}"
