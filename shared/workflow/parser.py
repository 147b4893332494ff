"""Parse and validate diagrams into deployable process definitions.

A designer's file either deploys or is refused with problems that each name the file, the element
and what to fix. Nothing here touches a database: ``ztc deploy`` validates the same way whether or
not the services run.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.util import DEFAULT_NSMAP
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser

from shared import evaluator

from .serializer import spec_to_dict
from .specs import JobServiceTask

SERVICES_WITH_JOBS = ("intake", "assignment", "supervision", "evaluation", "engine")
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = dict(DEFAULT_NSMAP, spiffworkflow=SPIFF_NS)


@dataclass(frozen=True)
class DiagramProblem:
    file: str
    element_id: str
    element_type: str
    message: str
    line: int | None = None

    def __str__(self):
        where = f"{self.file}"
        if self.line:
            where += f":{self.line}"
        element = f" element '{self.element_id}'" if self.element_id else ""
        kind = f" ({self.element_type})" if self.element_type else ""
        return f"{where}:{element}{kind} {self.message}".replace(": ", ": ", 1)


class DiagramError(Exception):
    """A diagram was refused; ``problems`` lists every reason found."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class ProcessDefinition:
    process_id: str
    name: str
    version: str
    spec: dict
    files: dict = field(default_factory=dict)


class ZtcBpmnParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = dict(SpiffBpmnParser.OVERRIDE_PARSER_CLASSES)
    OVERRIDE_PARSER_CLASSES[full_tag("serviceTask")] = (ServiceTaskParser, JobServiceTask)


def _short_tag(node):
    q = etree.QName(node)
    prefix = {DEFAULT_NSMAP["bpmn"]: "bpmn", SPIFF_NS: "spiffworkflow"}.get(q.namespace, q.namespace)
    return f"{prefix}:{q.localname}" if prefix else q.localname


# Elements that carry an id of their own but are parts of the element a designer looks for.
_PARTS = {"conditionExpression", "timeDuration", "timeDate", "timeCycle", "script", "completionCondition",
          "loopCardinality", "formalExpression", "extensionElements"}


def _owner(node):
    """The nearest BPMN element (self or ancestor) a designer would look for in the modeler."""
    while node is not None:
        q = etree.QName(node)
        if node.get("id") is not None and q.namespace == DEFAULT_NSMAP["bpmn"] and q.localname not in _PARTS:
            return node
        node = node.getparent()
    return None


def _problem(filename, node, message):
    owner = _owner(node)
    if owner is None:
        return DiagramProblem(filename, "", "", message, getattr(node, "sourceline", None))
    return DiagramProblem(filename, owner.get("id"), _short_tag(owner), message, owner.sourceline)


# Every place a diagram carries code or an expression, with the mode it is evaluated in.
_CODE_XPATHS = (
    (".//bpmn:scriptTask/bpmn:script", "exec"),
    (".//spiffworkflow:preScript", "exec"),
    (".//spiffworkflow:postScript", "exec"),
    (".//bpmn:conditionExpression", "eval"),
    (".//bpmn:timeDuration", "eval"),
    (".//bpmn:timeDate", "eval"),
    (".//bpmn:timeCycle", "eval"),
    (".//bpmn:completionCondition", "eval"),
    (".//bpmn:loopCardinality", "eval"),
    (".//spiffworkflow:messagePayload", "eval"),
    (".//spiffworkflow:calledDecisionId", None),
)


def _check_code(tree, filename):
    problems = []
    for xpath, mode in _CODE_XPATHS:
        if mode is None:
            continue
        for node in tree.xpath(xpath, namespaces=NS):
            text = (node.text or "").strip()
            if not text:
                continue
            try:
                evaluator.check(text, mode)
            except evaluator.UnsafeScript as exc:
                problems.append(_problem(filename, node, f"{_short_tag(node)} refused: {exc}"))
    cap = evaluator.default_limits()[1]
    for node in tree.xpath(f".//spiffworkflow:property[@name='{evaluator.TIME_LIMIT_PROPERTY}']", namespaces=NS):
        try:
            asked = evaluator.requested_time_limit({evaluator.TIME_LIMIT_PROPERTY: node.get("value")})
        except (TypeError, ValueError):
            asked = -1
        if asked is not None and not 0 < asked <= cap:
            problems.append(_problem(
                filename, node,
                f"{evaluator.TIME_LIMIT_PROPERTY} '{node.get('value')}' must be a number of seconds above 0 "
                f"and at most {cap:g} (the deployment's cap); the default is "
                f"{evaluator.default_limits()[0].seconds:g}"))
    for node in tree.xpath(".//spiffworkflow:serviceTaskOperator", namespaces=NS):
        operation = node.get("id", "")
        service = operation.split(".", 1)[0]
        if "." not in operation or service not in SERVICES_WITH_JOBS:
            problems.append(_problem(
                filename, node,
                f"service task operation '{operation}' must be '<service>.<operation>' with a service "
                f"among {', '.join(SERVICES_WITH_JOBS)}"))
        for param in node.xpath(".//spiffworkflow:parameter", namespaces=NS):
            try:
                evaluator.check((param.get("value") or "None").strip(), "eval")
            except evaluator.UnsafeScript as exc:
                problems.append(_problem(
                    filename, node, f"parameter '{param.get('id')}' of '{operation}' refused: {exc}"))
    return problems


def _check_gateways(tree, filename):
    """Exclusive and inclusive gateways that split must say which way to go."""
    problems = []
    for tag in ("exclusiveGateway", "inclusiveGateway"):
        for gw in tree.xpath(f".//bpmn:{tag}", namespaces=NS):
            gid, default = gw.get("id"), gw.get("default")
            flows = gw.getparent().xpath(f"bpmn:sequenceFlow[@sourceRef='{gid}']", namespaces=NS)
            if len(flows) < 2:
                continue
            for flow in flows:
                if flow.get("id") == default:
                    continue
                if not flow.xpath("bpmn:conditionExpression", namespaces=NS):
                    problems.append(_problem(
                        filename, flow,
                        f"leaves {tag} '{gid}' without a condition: add a condition expression, or make "
                        f"it the gateway's default flow"))
    return problems


def _from_spiff(exc, filename):
    if isinstance(exc, ValidationException):
        return DiagramProblem(exc.file_name or filename, exc.id or "", exc.tag or "",
                              str(exc.args[0]) if exc.args else str(exc),
                              exc.line_number if isinstance(exc.line_number, int) else None)
    return DiagramProblem(filename, getattr(exc, "id", "") or "", "", str(exc))


def version_of(files: dict) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(files[name] if isinstance(files[name], bytes) else files[name].encode())
    return digest.hexdigest()[:16]


def parse(files: dict) -> list[ProcessDefinition]:
    """Parse ``{filename: content}`` (BPMN and DMN) into process definitions or raise DiagramError.

    Every executable process in the files becomes a definition; call activities are resolved
    against the processes in the same set of files.
    """
    parser = ZtcBpmnParser(validator=VALIDATOR)
    problems = []
    bpmn_names = []
    for name, content in files.items():
        data = content if isinstance(content, bytes) else content.encode()
        try:
            tree = etree.fromstring(data)
        except etree.XMLSyntaxError as exc:
            problems.append(DiagramProblem(name, "", "", f"not well-formed XML: {exc.msg}", exc.lineno))
            continue
        try:
            if name.endswith(".dmn"):
                parser.add_dmn_xml(tree, filename=name)
                continue
            bpmn_names.append(name)
            code_problems = _check_code(tree, name) + _check_gateways(tree, name)
            if code_problems:
                problems.extend(code_problems)
                continue
            parser.add_bpmn_xml(tree, filename=name)
        except SpiffWorkflowException as exc:
            problems.append(_from_spiff(exc, name))
    if problems:
        raise DiagramError(problems)

    process_ids = parser.get_process_ids()
    if not process_ids:
        raise DiagramError([DiagramProblem(
            ", ".join(bpmn_names) or ", ".join(files), "", "",
            "no executable process: mark the process isExecutable=\"true\" to deploy it")])

    version = version_of(files)
    definitions = []
    for process_id in process_ids:
        proc_parser = parser.get_process_parser(process_id)
        filename = proc_parser.filename if proc_parser else ""
        try:
            spec = parser.get_spec(process_id)
            subprocesses = parser.get_subprocess_specs(process_id)
        except SpiffWorkflowException as exc:
            problems.append(_from_spiff(exc, filename))
            continue
        except Exception as exc:  # SpiffWorkflow raises plain exceptions for some malformed input
            problems.append(DiagramProblem(filename, "", "", f"{type(exc).__name__}: {exc}"))
            continue
        definitions.append(ProcessDefinition(
            process_id=process_id,
            name=proc_parser.get_name() if proc_parser else process_id,
            version=version,
            spec=spec_to_dict(spec, subprocesses),
            files={k: (v.decode() if isinstance(v, bytes) else v) for k, v in files.items()},
        ))
    if problems:
        raise DiagramError(problems)
    return definitions


def parse_paths(paths) -> list[ProcessDefinition]:
    files = {}
    for path in paths:
        with open(path, "rb") as fh:
            files[str(path).rsplit("/", 1)[-1]] = fh.read()
    return parse(files)
