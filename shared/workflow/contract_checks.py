"""Deploy checks against the contracts: what a diagram asks of the services must exist.

Every service task names an operation declared in :mod:`shared.contracts.jobs` and passes the
parameters its schema requires, and none it does not know; every message a process catches or
throws is declared in :mod:`shared.contracts.messages` (something sends it). A typo such as
``intake.find_duplicats`` or a renamed ``reply_submitted`` is refused at deploy, with the closest
declared name, instead of waiting for ever at run time.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping

from lxml import etree

from shared.contracts import bus, jobs, messages

from .problems import DiagramProblem, Document, Element, is_executable

# The services a diagram may name in an operation: those with job queues, and the engine.
SERVICES_WITH_JOBS = (*bus.SERVICES, "engine")


def operation_name_hint(name: str) -> str:
    """What to write instead of ``name``, an operation not named '<service>.<operation>' with a
    service there is: the declared operations of that name (``assign_unit`` ->
    ``assignment.assign_unit``), else the nearest declared name, else an example."""
    bare = name.rsplit(".", 1)[-1]
    named = sorted(op for op in jobs.OPERATIONS if op.split(".", 1)[1] == bare)
    if named:
        return "write " + " or ".join(f"'{op}'" for op in named)
    close = difflib.get_close_matches(name, list(jobs.OPERATIONS), n=1)
    return f"did you mean '{close[0]}'?" if close else "e.g. intake.record_submission"


def operations(doc: Document, process: Element, strip: list[Element]) -> Iterator[DiagramProblem]:
    for node in doc.xpath(".//spiffworkflow:serviceTaskOperator", process):
        name = node.get("id") or ""
        if "." not in name or name.split(".", 1)[0] not in SERVICES_WITH_JOBS:
            continue  # refused by the name check
        operation = jobs.get(name)
        if operation is None:
            close = difflib.get_close_matches(name, list(jobs.OPERATIONS), n=1)
            service = name.split(".", 1)[0]
            hint = (
                f"did you mean '{close[0]}'?"
                if close
                else f"the operations of '{service}' are: "
                + (", ".join(op.name for op in jobs.of_service(service)) or "none")
            )
            yield doc.problem(node, f"operation '{name}' is not declared in the contracts", hint, "unknown-operation")
            continue
        given = [p.get("id") for p in doc.xpath(".//spiffworkflow:parameter", node)]
        declared = operation.parameters()
        missing = sorted(operation.required() - set(given))
        if missing:
            yield doc.problem(
                node,
                f"operation '{name}' needs the parameter(s) {', '.join(missing)}",
                "add them under the task's parameters (spiffworkflow:parameter)",
                "missing-parameter",
            )
        unknown = sorted(set(given) - set(declared))
        if unknown:
            yield doc.problem(
                node,
                f"operation '{name}' takes no parameter(s) {', '.join(unknown)}",
                f"its parameters are: {', '.join(sorted(declared))}",
                "unknown-parameter",
            )


def bpmn_messages(doc: Document, process: Element, strip: list[Element]) -> Iterator[DiagramProblem]:
    declared = {m.get("id"): m for m in doc.xpath(".//bpmn:message")}
    refs = doc.xpath(
        ".//bpmn:messageEventDefinition[@messageRef] | .//bpmn:receiveTask[@messageRef]"
        " | .//bpmn:sendTask[@messageRef]",
        process,
    )
    for ref in refs:
        message = declared.get(ref.get("messageRef"))
        if message is None:
            continue  # a dangling reference: the structure checks name it
        element = ref.getparent() if etree.QName(ref).localname == "messageEventDefinition" else ref
        if not (message.get("name") or "").strip():
            # Correlated by name: a message without one is none any service could send.
            yield doc.problem(
                element,
                f"message '{message.get('id')}' has no name: messages are sent by name, so nothing could reach it",
                "give the message the name a service sends (shared/contracts/messages.py), e.g. "
                + ", ".join(sorted(messages.MESSAGES)[:3]),
                "unknown-message",
            )
            continue
        name = message.get("name")
        if messages.get(name) is not None:
            continue
        close = difflib.get_close_matches(name, list(messages.MESSAGES), n=1)
        hint = (
            f"did you mean '{close[0]}'?"
            if close
            else "declare it in shared/contracts/messages.py with the service that sends it"
        )
        yield doc.problem(
            element,
            f"message '{name}' is not declared: nothing sends it, so the instance would wait for ever",
            hint,
            "unknown-message",
        )


def _problems(
    files: Mapping[str, bytes | str],
    check: Callable[[Document, Element, list[Element]], Iterable[DiagramProblem]],
) -> list[DiagramProblem]:
    found: list[DiagramProblem] = []
    for filename, content in sorted(files.items()):
        if not filename.endswith(".bpmn"):
            continue
        data = content if isinstance(content, bytes) else content.encode()
        try:
            root = etree.fromstring(data)
        except etree.XMLSyntaxError:
            continue
        doc = Document(filename, root, data)
        for process in doc.xpath(".//bpmn:process"):
            if is_executable(process):
                found.extend(check(doc, process, []))
    return found


def check_operations(files: Mapping[str, bytes | str]) -> list[DiagramProblem]:
    """The operation problems of ``files`` (``{name: content}``) alone."""
    return _problems(files, operations)


def check_messages(files: Mapping[str, bytes | str]) -> list[DiagramProblem]:
    """The message problems of ``files`` alone."""
    return _problems(files, bpmn_messages)
