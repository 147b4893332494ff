"""Style findings on a diagram that deploys: what ``ztc lint`` reports besides the deploy checks.

None of these refuse a diagram; they are what makes one hard to read or easy to get wrong. Each
finding carries the name of the bpmnlint rule it corresponds to (the linter bpmn.io and Camunda
Modeler run), so designers recognise it: ``label-required``, ``conditional-flows``,
``no-disconnected``, ``no-implicit-split``, ``single-blank-start-event``, ``end-event-required``
and ``superfluous-gateway``. Like the deploy checks, only executable processes are linted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from . import checks, drawing, parser
from .problems import DiagramProblem, Document, Element, clean, is_bpmn, local

RULES = {
    "label-required": "tasks, events, deciding gateways and conditional flows carry a label",
    "conditional-flows": "an exclusive or inclusive gateway that splits has a default flow",
    "no-disconnected": "every element can be reached from a start event",
    "no-implicit-split": "a start event leaves by one flow (split with a gateway)",
    "single-blank-start-event": "a process or sub-process has at most one blank start event",
    "end-event-required": "a process or sub-process has an end event",
    "superfluous-gateway": "a gateway that neither splits nor joins is left out",
    "di-complete": "every element and flow has a shape or an edge in the drawing (else a modeler does not show it)",
    "no-overlapping-shapes": "no shape lies on another (a boundary event on its host's border is fine)",
}

ACTIVITIES = (
    "task",
    "userTask",
    "serviceTask",
    "scriptTask",
    "manualTask",
    "businessRuleTask",
    "sendTask",
    "receiveTask",
    "callActivity",
    "subProcess",
    "transaction",
    "adHocSubProcess",
)
EVENTS = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent")
FLOW_NODES = ACTIVITIES + EVENTS + checks.GATEWAYS
CONTAINERS = ("process", "subProcess", "transaction", "adHocSubProcess")


@dataclass
class LintResult:
    problems: list[DiagramProblem] = field(default_factory=list)  # refusals: the diagram would not deploy
    findings: list[DiagramProblem] = field(default_factory=list)  # style: it deploys, but...
    notes: list[str] = field(default_factory=list)


def lint(files: Mapping[str, bytes | str]) -> LintResult:
    """The deploy checks' problems and notes, and the style findings, of ``{filename: content}``."""
    problems, notes, _, docs, _ = parser.check(files)
    result = LintResult(problems=problems, notes=notes)
    for doc in docs.values():
        for process in doc.xpath(".//bpmn:process"):
            if checks.is_executable(process):
                result.findings.extend(_lint_process(doc, process))
        result.findings.extend(_drawing(doc, files[doc.filename]))
    result.findings.sort(key=lambda f: (f.file, f.line or 0))
    return result


def _drawing(doc: Document, content: bytes | str) -> list[DiagramProblem]:
    """The drawing (DI): complete, and no shape on another (:mod:`.drawing`)."""
    found = []
    for problem in drawing.problems(content if isinstance(content, bytes) else content.encode()):
        overlap = "overlaps" in problem.message
        found.append(
            doc.problem_at(
                problem.element_id,
                problem.message,
                "move one of the shapes in the modeler"
                if overlap
                else "open the file in the modeler and place the element (or re-export it)",
                "no-overlapping-shapes" if overlap else "di-complete",
            )
        )
    return found


def _finding(doc: Document, node: Element, rule: str, message: str, hint: str) -> DiagramProblem:
    return doc.problem(node, message, hint, rule)


def _flow_nodes(doc: Document, container: Element) -> list[Element]:
    return [c for c in container if is_bpmn(c, *FLOW_NODES)]


def _lint_process(doc: Document, process: Element) -> Iterator[DiagramProblem]:
    flows = doc.xpath(".//bpmn:sequenceFlow", process)
    outgoing: defaultdict[str, list[Element]] = defaultdict(list)
    incoming: defaultdict[str, list[Element]] = defaultdict(list)
    for flow in flows:
        outgoing[flow.get("sourceRef")].append(flow)
        incoming[flow.get("targetRef")].append(flow)
    yield from _labels(doc, process, outgoing)
    yield from _defaults(doc, process, outgoing)
    yield from _reachable(doc, process, outgoing)
    for container in [process, *doc.xpath(".//bpmn:subProcess | .//bpmn:transaction", process)]:
        yield from _start_and_end(doc, container, outgoing)
    for gateway in doc.xpath(" | ".join(f".//bpmn:{g}" for g in checks.GATEWAYS), process):
        gid = gateway.get("id")
        if len(incoming[gid]) == 1 and len(outgoing[gid]) == 1:
            yield _finding(
                doc,
                gateway,
                "superfluous-gateway",
                "neither splits nor joins (one flow in, one flow out)",
                "remove the gateway and connect its flows directly",
            )


def _labels(doc: Document, process: Element, outgoing: Mapping[str, list[Element]]) -> Iterator[DiagramProblem]:
    for node in doc.xpath(" | ".join(f".//bpmn:{t}" for t in ACTIVITIES + EVENTS), process):
        if not clean(node.get("name")):
            yield _finding(
                doc,
                node,
                "label-required",
                f"has no label (a {local(node)} without a name)",
                "name it in the modeler for what it does, e.g. 'Review the proposal'",
            )
    for tag in ("exclusiveGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway"):
        for gateway in doc.xpath(f".//bpmn:{tag}", process):
            if len(outgoing[gateway.get("id")]) > 1 and not clean(gateway.get("name")):
                yield _finding(
                    doc,
                    gateway,
                    "label-required",
                    "decides which way to go but has no label",
                    "name it for the question it asks, e.g. 'Approved?'",
                )
    for flow in doc.xpath(".//bpmn:sequenceFlow[bpmn:conditionExpression]", process):
        if not clean(flow.get("name")):
            yield _finding(
                doc,
                flow,
                "label-required",
                "has a condition but no label",
                "label it with the answer it stands for, e.g. 'yes' or 'over budget'",
            )


def _defaults(doc: Document, process: Element, outgoing: Mapping[str, list[Element]]) -> Iterator[DiagramProblem]:
    for tag in ("exclusiveGateway", "inclusiveGateway"):
        for gateway in doc.xpath(f".//bpmn:{tag}", process):
            if len(outgoing[gateway.get("id")]) > 1 and not gateway.get("default"):
                yield _finding(
                    doc,
                    gateway,
                    "conditional-flows",
                    "splits without a default flow: when no condition holds, the instance stops with an error",
                    "make one of its outgoing flows the default flow",
                )


def _reachable(doc: Document, process: Element, outgoing: Mapping[str, list[Element]]) -> Iterator[DiagramProblem]:
    """Flow nodes that no path from a start event reaches."""
    attached: defaultdict[str, list[Element]] = defaultdict(list)
    for boundary in doc.xpath(".//bpmn:boundaryEvent", process):
        attached[boundary.get("attachedToRef")].append(boundary)
    reached: set[str] = set()
    todo = list(doc.xpath("./bpmn:startEvent", process))
    todo += doc.xpath("./bpmn:subProcess[@triggeredByEvent='true']", process)
    while todo:
        node = todo.pop()
        nid = node.get("id")
        if nid in reached:
            continue
        reached.add(nid)
        for flow in outgoing[nid]:
            target = doc.by_id.get(flow.get("targetRef") or "")
            if target is not None:
                todo.append(target)
        todo.extend(attached[nid])
        if is_bpmn(node, "subProcess", "transaction", "adHocSubProcess"):
            todo.extend(doc.xpath("./bpmn:startEvent | ./bpmn:subProcess[@triggeredByEvent='true']", node))
            if local(node) == "adHocSubProcess":
                todo.extend(_flow_nodes(doc, node))
    for node in doc.xpath(" | ".join(f".//bpmn:{t}" for t in FLOW_NODES), process):
        if node.get("id") not in reached:
            yield _finding(
                doc,
                node,
                "no-disconnected",
                "cannot be reached from a start event",
                "connect it with a sequence flow, or delete it",
            )


def _start_and_end(
    doc: Document, container: Element, outgoing: Mapping[str, list[Element]]
) -> Iterator[DiagramProblem]:
    starts = doc.xpath("./bpmn:startEvent", container)
    blank = [s for s in starts if not any(local(c).endswith("EventDefinition") for c in s)]
    if len(blank) > 1:
        yield _finding(
            doc,
            blank[1],
            "single-blank-start-event",
            f"is one of {len(blank)} blank start events of '{container.get('id')}'",
            "keep one blank start event; give the others a trigger (message, timer...)",
        )
    for start in starts:
        if len(outgoing[start.get("id")]) > 1:
            yield _finding(
                doc,
                start,
                "no-implicit-split",
                f"leaves by {len(outgoing[start.get('id')])} flows at once",
                "leave by one flow into a parallel gateway, which makes the split visible",
            )
    # (a sub-process without an end event is refused at deploy)
    if local(container) == "process" and not doc.xpath("./bpmn:endEvent", container):
        yield _finding(doc, container, "end-event-required", "has no end event", "end every path with an end event")
