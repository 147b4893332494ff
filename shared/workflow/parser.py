"""Parse diagrams into deployable process definitions, or refuse them with every problem at once.

A designer's file either deploys or is refused with problems that each name the file, the line,
the element (id and label) and what to fix. Our own checks (:mod:`.checks`) and SpiffWorkflow's
parse both run, whatever the other found; where both report the same element for the same cause,
ours is kept. Nothing here touches a database: ``ztc deploy`` validates the same way whether or
not the services run.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser

from . import checks, zeebe
from .checks import SERVICES_WITH_JOBS as SERVICES_WITH_JOBS  # part of this module's interface
from .expressions import TIMER_EXAMPLES
from .problems import NS, SPIFF_NS, Document, Element, clean, local, short_tag  # noqa: F401
from .problems import DiagramError as DiagramError  # part of this module's interface
from .problems import DiagramProblem as DiagramProblem
from .serializer import spec_to_dict
from .specs import JobServiceTask


@dataclass
class ProcessDefinition:
    process_id: str
    name: str
    version: str
    spec: dict[str, Any]  # the serialized process spec and those it calls
    files: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class ZtcBpmnParser(SpiffBpmnParser):  # type: ignore[misc]  # SpiffWorkflow ships no types
    OVERRIDE_PARSER_CLASSES = dict(SpiffBpmnParser.OVERRIDE_PARSER_CLASSES)
    OVERRIDE_PARSER_CLASSES[full_tag("serviceTask")] = (ServiceTaskParser, JobServiceTask)


# -- SpiffWorkflow's problems, said so that a designer can act on them ---------------------------------

# What a SpiffWorkflow message is rendered as: (element id, message, hint).
Rendered = tuple[str | None, str, str]

_GENERIC_HINT = "SpiffWorkflow 3.2 cannot run this element as drawn: change it in the modeler"


def _outgoing(doc: Document, element_id: str) -> list[Element]:
    return doc.xpath(f".//bpmn:sequenceFlow[@sourceRef='{element_id}']")


def _called_by(doc: Document, process_id: str) -> str | None:
    found = doc.xpath(f".//bpmn:callActivity[@calledElement='{process_id}']")
    return cast("str | None", found[0].get("id")) if found else None


def _split(doc: Document, exc: ValidationException, m: re.Match[str]) -> Rendered:
    element = doc.by_id.get(exc.id)
    kind = short_tag(element) if element is not None else (exc.tag or "task")
    flows = _outgoing(doc, exc.id)
    targets = ", ".join(f'"{doc.name_of(f.get("targetRef"))}"' for f in flows)
    return (
        exc.id,
        (f"has {len(flows)} outgoing flows (to {targets}), but a {kind} can leave by one flow only"),
        ("add a parallel gateway after it to take all of them, or an exclusive gateway with conditions to choose one"),
    )


def _dangling(doc: Document, exc: ValidationException, m: re.Match[str]) -> Rendered:
    target = m.group(1)
    flows = doc.xpath(f".//bpmn:sequenceFlow[@sourceRef='{exc.id}'][@targetRef='{target}']")
    return (
        (flows[0].get("id") if flows else exc.id),
        f"leads to '{target}', which is not an element of its process",
        "reconnect the flow to an element in the modeler, or delete it",
    )


def _data_store(doc: Document, exc: ValidationException, m: re.Match[str]) -> Rendered:
    wanted = clean(m.group(1))
    stores = [s for s in doc.xpath(".//bpmn:dataStore") if clean(s.get("name")) == wanted]
    return (
        (stores[0].get("id") if stores else None),
        f"data store '{wanted}' has no implementation in the engine",
        "keep the data in the task data, or read and write it through a service task",
    )


# (pattern, code, render): render(doc, exc, match) -> (element id, message, hint)
_SPIFF_MESSAGES: tuple[tuple[str, str, Callable[[Document, Any, re.Match[str]], Rendered]], ...] = (
    (
        r"A Service Task must have an operator",
        "service-operation",
        lambda d, e, m: (
            e.id,
            "has no operation: a service task is a job for one of our services",
            'add spiffworkflow:serviceTaskOperator id="<service>.<operation>" (services: '
            + ", ".join(SERVICES_WITH_JOBS)
            + ")",
        ),
    ),
    (
        r"Unknown Time Specification",
        "timer-missing",
        lambda d, e, m: (
            e.id,
            "timer has no time: no timeDuration, timeDate or timeCycle",
            f"give it a timeDuration such as {TIMER_EXAMPLES['timeDuration']}",
        ),
    ),
    (
        r"Time Specification Error\.\s*(.*)",
        "timer",
        lambda d, e, m: (
            e.id,
            f"timer refused: {m.group(1).strip() or 'its time is not ISO 8601'}",
            f"e.g. {TIMER_EXAMPLES['timeDuration']}",
        ),
    ),
    (r"Multiple outgoing flows are not supported", "implicit-split", _split),
    (r"perhaps a form has the same ID\? \((.*)\)", "dangling-flow", _dangling),
    (
        r"Non-default exclusive outgoing sequence flow without condition",
        "gateway-condition",
        lambda d, e, m: (
            e.id,
            "leaves a gateway without a condition",
            "add a condition expression, or make it the gateway's default flow",
        ),
    ),
    (
        r"Exactly one start event is required in a SubWorkflow Task; found (\d+)",
        "subprocess-start",
        lambda d, e, m: (
            e.id,
            f"has {m.group(1)} start events; a sub-process needs exactly one",
            "give the sub-process one start event inside it",
        ),
    ),
    (
        r"A SubWorkflow Must contain an End event",
        "subprocess-end",
        lambda d, e, m: (e.id, "has no end event", "add an end event inside the sub-process"),
    ),
    (
        r"No start event found",
        "process-start",
        lambda d, e, m: (e.id, "has no start event", "add a start event to the process"),
    ),
    (
        r"must specify a cardinality or a loop input",
        "multi-instance",
        lambda d, e, m: (
            e.id,
            "multi-instance has neither a loopCardinality nor a loopDataInputRef",
            "set loopCardinality or loopDataInputRef",
        ),
    ),
    (
        r"must specify exactly one of cardinality or loop input",
        "multi-instance",
        lambda d, e, m: (e.id, "multi-instance has both a loopCardinality and a loopDataInputRef", "keep one of them"),
    ),
    (
        r"loop (input|output) data reference is missing from the IO specification",
        "multi-instance",
        lambda d, e, m: (
            e.id,
            f"the loop {m.group(1)} names no {'dataInput' if m.group(1) == 'input' else 'dataOutput'} "
            "of the task's ioSpecification",
            "name a data input or output of the task",
        ),
    ),
    (
        r"A loopMaximum or loopCondition must be specified",
        "standard-loop",
        lambda d, e, m: (
            e.id,
            "loop has neither a loopMaximum nor a loopCondition",
            "set loopCondition or loopMaximum",
        ),
    ),
    (
        r"Cannot resolve data(Input|Output)Association",
        "data-association",
        lambda d, e, m: (
            e.id,
            f"{'reads' if m.group(1) == 'Input' else 'writes'} data that is neither a data "
            "object of its process nor a data store the engine implements",
            "connect the data association to a data object reference of the same pool",
        ),
    ),
    (r"Data Store with name (.*) has no implementation", "data-store", _data_store),
    (
        r"Process (\S+?)\.? is not executable",
        "call-not-executable",
        lambda d, e, m: (
            _called_by(d, m.group(1)) or m.group(1),
            f"calls process '{m.group(1)}', which is not executable",
            'mark the called process isExecutable="true"',
        ),
    ),
    (
        r"The process '(.*?)' was not found",
        "call-missing",
        lambda d, e, m: (
            _called_by(d, m.group(1)),
            f"calls process '{m.group(1)}', which none of the files deployed together holds",
            "deploy the file that holds it together with this one, or correct calledElement",
        ),
    ),
    (
        r'No "calledElement" attribute',
        "call-element",
        lambda d, e, m: (
            e.id,
            "calls no process: its calledElement is not set",
            "set calledElement to the id of the process to call, and deploy its file together with this one",
        ),
    ),
    (
        r"Duplicate process ID: (\S+)",
        "duplicate-process",
        lambda d, e, m: (m.group(1), f"process id '{m.group(1)}' is used twice", "give each process an id of its own"),
    ),
)


def _spiff_problem(exc: Exception, doc: Document, fallback: Element | None = None) -> DiagramProblem:
    """A problem SpiffWorkflow raised, named as ours are; the line is looked up by the element's id
    (SpiffWorkflow gives none), else the process's, else the file's root element's."""
    raw = str(exc.args[0]) if exc.args else str(exc)
    raw = raw.strip()
    element_id = getattr(exc, "id", "") or ""
    for pattern, code, render in _SPIFF_MESSAGES:
        m = re.search(pattern, raw)
        if m:
            element_id, message, hint = render(doc, exc, m)
            return doc.problem_at(element_id, message, hint, code, fallback)
    if not isinstance(exc, ValidationException):
        raw = f"{type(exc).__name__}: {raw}"
    return doc.problem_at(element_id, raw, _GENERIC_HINT, "spiff", fallback)


def _no_executable_process(docs: Iterable[Document]) -> list[DiagramProblem]:
    problems: list[DiagramProblem] = []
    hint = 'mark the process isExecutable="true" to deploy it'
    for doc in docs:
        processes = doc.xpath(".//bpmn:process")
        for process in processes:
            problems.append(
                doc.problem(
                    process, 'no executable process: this one is isExecutable="false"', hint, "no-executable-process"
                )
            )
        if not processes:
            problems.append(
                doc.problem_at(
                    None,
                    "no executable process: the file holds no process",
                    'draw a process (a pool) and mark it isExecutable="true"',
                    "no-executable-process",
                )
            )
    return problems


def _calls(docs: Mapping[str, Document]) -> list[DiagramProblem]:
    """Call activities of executable processes must call an executable process of the deployment
    (SpiffWorkflow finds out only for the first one, and only if nothing stopped it before)."""
    processes = {p.get("id"): p for d in docs.values() for p in d.xpath(".//bpmn:process")}
    problems: list[DiagramProblem] = []
    for doc in docs.values():
        for process in doc.xpath(".//bpmn:process"):
            if not checks.is_executable(process):
                continue
            for call in doc.xpath(".//bpmn:callActivity[@calledElement]", process):
                called = call.get("calledElement").strip()
                if not called:
                    continue
                if called not in processes:
                    problems.append(
                        doc.problem(
                            call,
                            f"calls process '{called}', which none of the files deployed together holds",
                            "deploy the file that holds it together with this one, or correct calledElement",
                            "call-missing",
                        )
                    )
                elif not checks.is_executable(processes[called]):
                    problems.append(
                        doc.problem(
                            call,
                            f"calls process '{called}', which is not executable",
                            'mark the called process isExecutable="true"',
                            "call-not-executable",
                        )
                    )
    return problems


def _merge(ours: list[DiagramProblem], theirs: list[DiagramProblem]) -> list[DiagramProblem]:
    """Ours, then SpiffWorkflow's that report something else; in the order of the files' lines.
    SpiffWorkflow's messages we have no rendering for ("spiff") are left out for an element that
    ours refuse already: they say less than ours of the same element (a service task whose
    operation is named like the task itself made SpiffWorkflow find the operation's node by the
    task's id and say it has "no support for this task type")."""
    seen = {(p.file, p.element_id, p.code) for p in ours}
    refused = {(p.file, p.element_id) for p in ours if p.element_id}
    merged = list(ours)
    for problem in theirs:
        key = (problem.file, problem.element_id, problem.code)
        if key in seen or any(str(p) == str(problem) for p in merged):
            continue
        if problem.code == "spiff" and (problem.file, problem.element_id) in refused:
            continue
        seen.add(key)
        merged.append(problem)
    order: dict[str, int] = {}
    for p in merged:
        order.setdefault(p.file, len(order))
    return sorted(merged, key=lambda p: (order[p.file], p.line or 0))


# -- parsing -------------------------------------------------------------------------------------------


def version_of(files: Mapping[str, bytes | str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode())
        digest.update(b"\0")
        content = files[name]
        digest.update(content if isinstance(content, bytes) else content.encode())
    return digest.hexdigest()[:16]


def check(
    files: Mapping[str, bytes | str],
) -> tuple[list[DiagramProblem], list[str], ZtcBpmnParser, dict[str, Document], list[str]]:
    """Check ``{filename: content}`` (BPMN and DMN): ``(problems, notes, parser, docs, process ids)``.

    ``parser`` holds every file SpiffWorkflow could read; the problems are ours and SpiffWorkflow's
    together, each with a line."""
    parser = ZtcBpmnParser(validator=None)  # the schema is checked in checks, every error of it
    ours: list[DiagramProblem] = []
    theirs: list[DiagramProblem] = []
    notes: list[str] = []
    docs: dict[str, Document] = {}
    for name, content in files.items():
        data = content if isinstance(content, bytes) else content.encode()
        try:
            root = etree.fromstring(data)
        except etree.XMLSyntaxError as exc:
            ours.append(
                DiagramProblem(
                    name,
                    "",
                    "",
                    f"not well-formed XML: {exc.msg}",
                    exc.lineno or 1,
                    hint="the file is not XML a modeler wrote: export it again",
                    code="xml",
                )
            )
            continue
        zeebe.normalize(root)  # a job drawn with Camunda Modeler's templates reads as ours
        doc = Document(name, root, data)
        if name.endswith(".dmn"):
            try:
                parser.add_dmn_xml(root, filename=name)
            except Exception as exc:  # noqa: BLE001 - any failure of a DMN file is the file's problem
                theirs.append(_spiff_problem(exc, doc))
            continue
        docs[name] = doc
        checked = checks.check_document(doc, parser.DATA_STORE_CLASSES, VALIDATOR)
        ours.extend(checked.problems)
        notes.extend(checked.notes)
        try:
            parser.add_bpmn_xml(checked.for_spiff, filename=name)
        except Exception as exc:  # noqa: BLE001 - SpiffWorkflow raises plain exceptions for some input
            theirs.append(_spiff_problem(exc, doc))

    ours.extend(_calls(docs))
    process_ids = parser.get_process_ids()
    if docs and not any(checks.is_executable(p) for d in docs.values() for p in d.xpath(".//bpmn:process")):
        ours.extend(_no_executable_process(docs.values()))
        process_ids = []
    elif not docs and not ours and not theirs:
        ours.append(
            DiagramProblem(
                ", ".join(files),
                "",
                "",
                "no executable process: no BPMN file was given",
                1,
                hint="deploy a .bpmn file (DMN files go beside it)",
                code="no-executable-process",
            )
        )
    for process_id in process_ids:
        proc_parser = parser.get_process_parser(process_id)
        found = docs.get(proc_parser.filename if proc_parser else "")
        if found is None:
            continue
        try:
            parser.get_spec(process_id)
            parser.get_subprocess_specs(process_id)
        except Exception as exc:  # noqa: BLE001 - SpiffWorkflow raises plain exceptions for some input
            theirs.append(_spiff_problem(exc, found, found.by_id.get(process_id)))
    return _merge(ours, theirs), notes, parser, docs, process_ids


def parse(files: Mapping[str, bytes | str]) -> list[ProcessDefinition]:
    """Parse ``{filename: content}`` (BPMN and DMN) into process definitions or raise DiagramError
    listing every problem.

    Every executable process in the files becomes a definition; call activities are resolved
    against the processes in the same set of files. A process marked non-executable is kept as
    documentation: not checked, and named in each definition's ``notes``.
    """
    problems, notes, parser, docs, process_ids = check(files)
    if problems:
        raise DiagramError(problems, notes)
    decisions = [name for name in files if name.endswith(".dmn")]
    definitions = []
    for process_id in process_ids:
        proc_parser = parser.get_process_parser(process_id)
        spec = parser.get_spec(process_id)
        subprocesses = parser.get_subprocess_specs(process_id)
        # A process is versioned by the files it runs: its own, those of the processes it calls,
        # and the decision tables. Deployed beside a file that calls it, a process keeps the
        # version it has deployed alone; its callers' files are not part of it.
        needed = {proc_parser.filename, *decisions}
        for called in subprocesses:
            called_parser = parser.get_process_parser(called)
            if called_parser is not None:
                needed.add(called_parser.filename)
        own = {k: v for k, v in files.items() if k in needed}
        definitions.append(
            ProcessDefinition(
                process_id=process_id,
                name=proc_parser.get_name(),
                version=version_of(own),
                spec=spec_to_dict(spec, subprocesses),
                files={k: (v.decode() if isinstance(v, bytes) else v) for k, v in own.items()},
                notes=list(notes),
            )
        )
    return definitions


def parse_paths(paths: Iterable[str | os.PathLike[str]]) -> list[ProcessDefinition]:
    files: dict[str, bytes] = {}
    for path in paths:
        with open(path, "rb") as fh:
            files[str(path).rsplit("/", 1)[-1]] = fh.read()
    return parse(files)
