"""Deploy checks against the contracts: what a diagram asks of the services must exist.

Every service task names an operation declared in :mod:`shared.contracts.jobs` and passes the
parameters its schema requires, and none it does not know. Each problem names the file, the line,
the element and its label, with the fix — a typo such as ``intake.find_duplicats`` is refused at
deploy instead of waiting forever at run time.
"""
from __future__ import annotations

import difflib

from lxml import etree

from shared.contracts import jobs

from .parser import NS, DiagramProblem

EXECUTABLE = "true"


def _executable_processes(tree):
    return [p for p in tree.xpath(".//bpmn:process", namespaces=NS)
            if (p.get("isExecutable") or "").lower() == EXECUTABLE]


def _task_of(node):
    while node is not None and node.get("id") is None:
        node = node.getparent()
    return node


def _problem(filename, task, message, hint=""):
    label = task.get("name") or ""
    text = message + (f" — {hint}" if hint else "")
    problem = DiagramProblem(filename, task.get("id") or "", f"bpmn:{etree.QName(task).localname}", text,
                             task.sourceline)
    if label and hasattr(problem, "label"):
        object.__setattr__(problem, "label", label)
    elif label:
        problem = DiagramProblem(filename, problem.element_id, problem.element_type,
                                 f'"{label}": {text}', problem.line)
    return problem


def check_operations(files: dict) -> list[DiagramProblem]:
    """Problems of every service task in ``files`` (``{name: bytes or str}``) against the contracts."""
    problems = []
    for filename, content in sorted(files.items()):
        if not filename.endswith(".bpmn"):
            continue
        try:
            tree = etree.fromstring(content if isinstance(content, bytes) else content.encode())
        except etree.XMLSyntaxError:
            continue   # the parser reports it
        for process in _executable_processes(tree):
            for node in process.xpath(".//spiffworkflow:serviceTaskOperator", namespaces=NS):
                problems.extend(_check_task(filename, node))
    return problems


def _check_task(filename, node) -> list[DiagramProblem]:
    task = _task_of(node.getparent())
    name = node.get("id") or ""
    if "." not in name:
        return []   # the parser refuses a name that is not <service>.<operation>
    operation = jobs.get(name)
    if operation is None:
        close = difflib.get_close_matches(name, list(jobs.OPERATIONS), n=1)
        hint = f"did you mean '{close[0]}'?" if close else \
            f"the operations of '{name.split('.', 1)[0]}' are: " + \
            ", ".join(op.name for op in jobs.of_service(name.split(".", 1)[0])) or "none"
        return [_problem(filename, task, f"operation '{name}' is not declared in the contracts", hint)]
    given = [p.get("id") for p in node.xpath(".//spiffworkflow:parameter", namespaces=NS)]
    declared = operation.parameters()
    problems = []
    missing = sorted(operation.required() - set(given))
    if missing:
        problems.append(_problem(
            filename, task, f"operation '{name}' needs the parameter(s) {', '.join(missing)}",
            "add them under the task's parameters (spiffworkflow:parameter)"))
    unknown = sorted(set(given) - set(declared))
    if unknown:
        problems.append(_problem(
            filename, task, f"operation '{name}' takes no parameter(s) {', '.join(unknown)}",
            f"its parameters are: {', '.join(sorted(declared))}"))
    return problems


def check_messages(files: dict) -> list[DiagramProblem]:
    """Every message an executable process catches or throws is declared in the contracts."""
    from shared.contracts import messages

    problems = []
    for filename, content in sorted(files.items()):
        if not filename.endswith(".bpmn"):
            continue
        try:
            tree = etree.fromstring(content if isinstance(content, bytes) else content.encode())
        except etree.XMLSyntaxError:
            continue
        declared = {m.get("id"): m for m in tree.xpath(".//bpmn:message", namespaces=NS)}
        for process in _executable_processes(tree):
            refs = process.xpath(".//bpmn:messageEventDefinition[@messageRef] | .//bpmn:receiveTask[@messageRef]"
                                 " | .//bpmn:sendTask[@messageRef]", namespaces=NS)
            for ref in refs:
                message = declared.get(ref.get("messageRef"))
                if message is None:
                    continue   # a dangling reference: the parser names it
                name = message.get("name") or message.get("id")
                if messages.get(name) is None:
                    close = difflib.get_close_matches(name, list(messages.MESSAGES), n=1)
                    hint = (f"did you mean '{close[0]}'?" if close else
                            "declare it in shared/contracts/messages.py with the service that sends it")
                    element = ref.getparent() if etree.QName(ref).localname == "messageEventDefinition" else ref
                    problems.append(_problem(filename, element,
                                             f"message '{name}' is not declared: nothing sends it, "
                                             "so the instance would wait for ever", hint))
    return problems
