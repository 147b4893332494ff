"""Deploy checks: everything we refuse in a diagram, found in one run.

SpiffWorkflow's parser stops at the first problem of each process, and some of its messages are
hard to act on. So the checks here look for every problem a designer is likely to make, each
named by file, line, element id and label, with a hint; :mod:`.parser` then runs SpiffWorkflow's
own parse too (on a copy without the parts already refused, so that it goes as far as it can)
and keeps whatever it finds that these checks did not.

Only executable processes are checked: a process marked ``isExecutable="false"`` (a
documentation pool of a collaboration, say) is kept as documentation, and a note says so.
"""

from __future__ import annotations

import copy
import keyword
import re
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator

from shared import contracts, evaluator
from shared.forms import FORMS

from .expressions import (
    NOT_A_CONSTANT,
    bare_iso,
    constant,
    foreign,
    foreign_advice,
    spaced_names,
    string_literal,
    timer_hint,
    timer_value_problem,
)
from .problems import BPMN_NS, SPIFF_NS, DiagramProblem, Document, Element, clean, is_bpmn, local, owner, short_tag
from . import bounds, contract_checks
from .problems import is_executable as is_executable  # the checks' reading of a process

from .contract_checks import SERVICES_WITH_JOBS as SERVICES_WITH_JOBS  # noqa: E402

TIMER_KINDS = ("timeDate", "timeDuration", "timeCycle")  # the order SpiffWorkflow looks for them
GATEWAYS = ("exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway")


@dataclass
class Checked:
    """What the checks found in one file, and the copy of it SpiffWorkflow parses."""

    problems: list[DiagramProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    for_spiff: object = None
    executable: list[Element] = field(default_factory=list)  # process elements that run


def check_document(
    doc: Document, data_store_classes: Collection[str] = (), validator: BpmnValidator | None = None
) -> Checked:
    checked = Checked()
    processes = doc.xpath(".//bpmn:process")
    strip: list[Element] = []
    for process in processes:
        if not is_executable(process):
            label = doc.label(process)
            checked.notes.append(
                f"{doc.filename}:{doc.line(process)}: process '{process.get('id')}'"
                + (f' "{label}"' if label else "")
                + " is not executable: kept as documentation"
            )
            continue
        checked.executable.append(process)
        for check in _PROCESS_CHECKS:
            checked.problems.extend(check(doc, process, strip))
        checked.problems.extend(_data(doc, process, strip, data_store_classes))
    checked.for_spiff = _copy_for_spiff(doc, strip, data_store_classes)
    if validator is not None:
        reported = {(p.element_id, p.code) for p in checked.problems}
        checked.problems.extend(p for p in _schema(doc, validator) if (p.element_id, p.code) not in reported)
    return checked


def _copy_for_spiff(doc: Document, strip: list[Element], data_store_classes: Collection[str]) -> Element:
    """The file as SpiffWorkflow gets it: without what was refused here already (so that its parse
    goes on to the rest) and without data stores it has no implementation for (which it would
    refuse for the whole file, documentation pools included)."""
    for store in doc.xpath(".//bpmn:dataStore"):
        if store.get("name") not in data_store_classes:
            strip.append(store)
    duplicate = copy.deepcopy(doc.root)
    doomed = []
    for path in {_position(node) for node in strip}:
        node = duplicate
        for index in path:
            node = node[index]
        doomed.append(node)
    for node in doomed:
        parent = node.getparent()
        if parent is not None:
            parent.remove(node)
    return duplicate


def _position(node: Element) -> tuple[int, ...]:
    """Where ``node`` is below the root, as child indexes (the same in a copy)."""
    path = []
    while node.getparent() is not None:
        parent = node.getparent()
        path.append(parent.index(node))
        node = parent
    return tuple(reversed(path))


# -- code and expressions ----------------------------------------------------------------------------


def _restricted_hint(reason: str) -> str:
    if "import" in reason:
        return "a script has the task data and a few builtins; reach anything else through a service task"
    if "is not allowed" in reason:
        return "open, eval, exec, getattr and the like are not available to diagram code"
    if "_" in reason and ("name" in reason or "attribute" in reason):
        return "names and attributes that start with an underscore are not available to diagram code"
    if "syntax" in reason:
        return "write it in Python (the task data are its variables)"
    return "see README, Diagrams: what scripts and expressions may use"


def _refused(
    doc: Document, node: Element, what: str, source: str, exc: Exception, code: str = "code"
) -> DiagramProblem:
    return doc.problem(node, f"{what} refused: {exc}", _restricted_hint(str(exc)), code)


def expression_problem(doc: Document, node: Element, what: str, text: str | None = None) -> DiagramProblem | None:
    """The problem with an expression (eval mode), or None: another language, or refused."""
    source = (node.text if text is None else text) or ""
    source = source.strip()
    if not source:
        return None
    found = foreign(source, node.get("language") or doc.expression_language)
    if found is not None:
        message, hint = foreign_advice(what, source, found)
        return doc.problem(node, message, hint, "expression-language")
    try:
        evaluator.check(source, "eval")
    except evaluator.UnsafeScript as exc:
        joined = spaced_names(source)
        if joined:
            return doc.problem(
                node,
                f"{what} '{source}' is not Python: a name cannot contain spaces",
                f"write it in Python: {joined} (use the name your task data carries)",
                "expression-names",
            )
        return _refused(doc, node, what, source, exc)
    return None


def _scripts(doc: Document, process: Element, strip: list[Element]) -> Iterable[DiagramProblem]:
    for task in doc.xpath(".//bpmn:scriptTask", process):
        if not any((node.text or "").strip() for node in doc.xpath("./bpmn:script", task)):
            # SpiffWorkflow would run it as compile(None): a TypeError at run time, not a word at deploy.
            yield doc.problem(
                task,
                "script task has no script",
                "write its script (e.g. outcome = 'answered'), or take the task out of the flow if it does nothing",
                "script",
            )
    for path in (".//bpmn:scriptTask/bpmn:script", ".//spiffworkflow:preScript", ".//spiffworkflow:postScript"):
        for node in doc.xpath(path, process):
            source = (node.text or "").strip()
            if not source:
                continue
            try:
                evaluator.check(source, "exec")
            except evaluator.UnsafeScript as exc:
                yield _refused(doc, node, short_tag(node), source, exc)


def _expressions(doc: Document, process: Element, strip: list[Element]) -> Iterable[DiagramProblem]:
    for path, what in (
        (".//bpmn:sequenceFlow/bpmn:conditionExpression", "condition"),
        (".//bpmn:conditionalEventDefinition/bpmn:condition", "condition"),
        (".//bpmn:completionCondition", "completionCondition"),
        (".//bpmn:loopCardinality", "loopCardinality"),
        (".//bpmn:loopCondition", "loopCondition"),
        (".//spiffworkflow:messagePayload", "messagePayload"),
    ):
        for node in doc.xpath(path, process):
            problem = expression_problem(doc, node, what)
            if problem:
                yield problem


def _time_limits(doc: Document, process: Element, strip: list[Element]) -> Iterable[DiagramProblem]:
    cap = evaluator.default_limits()[1]
    name = evaluator.TIME_LIMIT_PROPERTY
    for node in doc.xpath(f".//spiffworkflow:property[@name='{name}']", process):
        try:
            asked = evaluator.requested_time_limit({name: node.get("value")})
        except (TypeError, ValueError):
            asked = -1
        if asked is not None and not 0 < asked <= cap:
            yield doc.problem(
                node,
                f"{name} '{node.get('value')}' must be a number of seconds above 0 and at most "
                f"{cap:g} (the deployment's cap)",
                f"leave it out for the default of {evaluator.default_limits()[0].seconds:g} s, or ask for "
                f"at most {cap:g}",
                "time-limit",
            )


# -- timers --------------------------------------------------------------------------------------------


def _timers(doc: Document, process: Element, strip: list[Element]) -> Iterable[DiagramProblem]:
    for definition in doc.xpath(".//bpmn:timerEventDefinition", process):
        parts = [c for c in definition if is_bpmn(c, *TIMER_KINDS)]
        if not parts:
            yield doc.problem(
                definition,
                "timer has no time: no timeDuration, timeDate or timeCycle",
                "give it a timeDuration such as 'P3D', a timeDate such as '2026-05-01T09:00:00+08:00' "
                "or a timeCycle such as 'R3/PT1H'",
                "timer-missing",
            )
            continue
        for part in parts:
            problem = _timer_part(doc, part)
            if problem:
                yield problem


def _timer_part(doc: Document, node: Element) -> DiagramProblem | None:
    kind = local(node)
    text = (node.text or "").strip()
    if not text:
        return doc.problem(node, f"timer's {kind} is empty", timer_hint(kind), "timer")
    if bare_iso(text):
        return doc.problem(
            node,
            f"{kind} {text} is not quoted, so it would be read as Python (a name, or arithmetic) "
            f"and fail when the timer starts",
            f"write it as a string: '{text}'",
            "timer",
        )
    value = string_literal(text)
    if value is not None:
        why = timer_value_problem(kind, value)
        return doc.problem(node, f"{kind} {why}", timer_hint(kind, value), "timer") if why else None
    problem = expression_problem(doc, node, kind)
    if problem is not None and problem.code in ("code", "expression-names") and re.match(r"^([PR]\d|\d{4}-)", text):
        # An ISO 8601 value gone wrong, without quotes: 'P3 days', '2026-05-01 9:00'.
        return doc.problem(
            node,
            f"{kind} {text} is neither a quoted ISO 8601 value nor an expression",
            f"write it as a string: {timer_hint(kind, text)}",
            "timer",
        )
    return problem


# -- tasks ---------------------------------------------------------------------------------------------


def _service_tasks(doc: Document, process: Element, strip: list[Element]) -> Iterable[DiagramProblem]:
    services = ", ".join(SERVICES_WITH_JOBS)
    for task in doc.xpath(".//bpmn:serviceTask", process):
        if not doc.xpath("./bpmn:extensionElements/spiffworkflow:serviceTaskOperator", task):
            yield doc.problem(
                task,
                "has no operation: a service task is a job for one of our services",
                f'add spiffworkflow:serviceTaskOperator id="<service>.<operation>" (services: {services})',
                "service-operation",
            )
    for node in doc.xpath(".//spiffworkflow:serviceTaskOperator", process):
        operation = node.get("id", "")
        service = operation.split(".", 1)[0]
        if "." not in operation or service not in SERVICES_WITH_JOBS:
            yield doc.problem(
                node,
                f"service task operation '{operation}' must be '<service>.<operation>' with a service among {services}",
                contract_checks.operation_name_hint(operation),
                "service-operation-name",
            )
        for param in doc.xpath(".//spiffworkflow:parameter", node):
            problem = expression_problem(
                doc, node, f"parameter '{param.get('id')}' of '{operation}'", (param.get("value") or "None")
            )
            if problem:
                yield problem


# Tasks a person completes: SpiffWorkflow waits on each (a manual or plain task too) until one does.
_PEOPLES_TASKS = ("userTask", "manualTask", "task")


def _task_roles(doc: Document, process: Element, strip: list[Element]) -> Iterable[DiagramProblem]:
    """A task for people is offered to its candidateRole, else to its lane's name: one of the
    roles that read a task list, or nobody would ever see it."""
    lanes = {
        ref.text.strip(): (lane.get("name") or "").strip()
        for lane in doc.xpath(".//bpmn:lane", process)
        for ref in doc.xpath("./bpmn:flowNodeRef", lane)
        if ref.text
    }
    roles = ", ".join(contracts.TASK_ROLES)
    for kind in _PEOPLES_TASKS:
        for task in doc.xpath(f".//bpmn:{kind}", process):
            asked = doc.xpath("./bpmn:extensionElements//spiffworkflow:property[@name='candidateRole']", task)
            role = (asked[0].get("value") or "").strip() if asked else lanes.get(task.get("id", ""), "")
            where = "its candidateRole" if asked else "its lane"
            if role and role not in contracts.TASK_ROLES:
                bare = role.strip("'\"")
                hint = (
                    f"a role is a name, not an expression: write {bare}"
                    if bare != role and bare in contracts.TASK_ROLES
                    else f"offer it to one of {roles}"
                    + ("" if kind == "userTask" else "; or make it a script or service task if no person does it")
                )
                yield doc.problem(
                    task,
                    f"{kind} is offered to role {role!r} ({where}), which nobody has: it would wait for ever",
                    hint,
                    "task-role",
                )


def _user_tasks(doc: Document, process: Element, strip: list[Element]) -> Iterable[DiagramProblem]:
    for node in doc.xpath(".//spiffworkflow:property", process):
        name, value = node.get("name"), node.get("value") or ""
        if name in ("candidateUnit", "candidateUser"):
            problem = expression_problem(doc, node, f"{name} expression", value)
            if problem:
                yield problem
        elif name == "formSchema" and value and value not in FORMS:
            yield doc.problem(
                node,
                f"names form schema '{value}', which does not exist",
                f"use one of {', '.join(sorted(FORMS))} (shared/forms.py)",
                "form-schema",
            )


def _loops(doc: Document, process: Element, strip: list[Element]) -> Iterable[DiagramProblem]:
    for mi in doc.xpath(".//bpmn:multiInstanceLoopCharacteristics", process):
        cardinality = doc.xpath("./bpmn:loopCardinality", mi)
        inputs = doc.xpath("./bpmn:loopDataInputRef", mi)
        if not cardinality and not inputs:
            yield doc.problem(
                mi,
                "multi-instance has neither a loopCardinality nor a loopDataInputRef, so it cannot "
                "know how many instances to run",
                "set loopCardinality (an expression such as 3 or len(reviewers)) or loopDataInputRef "
                "(the name of a list in the task data)",
                "multi-instance",
            )
        elif cardinality and inputs:
            yield doc.problem(
                mi,
                "multi-instance has both a loopCardinality and a loopDataInputRef",
                "keep one of them",
                "multi-instance",
            )
        for node in cardinality:
            count = constant(node.text)
            too_many = bounds.instances_problem(count)
            if too_many:
                yield doc.problem(
                    node,
                    f"loopCardinality {count} asks for {too_many}",
                    f"run at most {bounds.MAX_INSTANCES}; split the work, or give a list (loopDataInputRef)",
                    "multi-instance",
                )
        for ref in doc.xpath("./bpmn:loopDataInputRef | ./bpmn:loopDataOutputRef", mi):
            name = (ref.text or "").strip()
            if not name.isidentifier() or name.startswith("_") or keyword.iskeyword(name):
                yield doc.problem(
                    ref,
                    f"{local(ref)} '{name}' is not the name of a variable of the task data",
                    "write a name such as reviewers (no spaces, not starting with _)",
                    "multi-instance",
                )
    for loop in doc.xpath(".//bpmn:standardLoopCharacteristics", process):
        conditions = [(c.text or "").strip() for c in doc.xpath("./bpmn:loopCondition", loop)]
        if loop.get("loopMaximum") is None and any(
            (value := constant(text)) is not NOT_A_CONSTANT and bool(value) for text in conditions
        ):
            yield doc.problem(
                loop,
                f"loop's condition {conditions[0]} is always true and it has no loopMaximum, so it would never stop",
                "loop on a variable the loop's task sets (such as not done), or set loopMaximum",
                "standard-loop",
            )
        if loop.get("loopMaximum") is None and not conditions:
            yield doc.problem(
                loop,
                "loop has neither a loopMaximum nor a loopCondition, so it would never stop",
                "set loopCondition (an expression such as done) or loopMaximum",
                "standard-loop",
            )


# -- the flow ------------------------------------------------------------------------------------------


def _has_condition(flow: Element) -> bool:
    return any((c.text or "").strip() for c in flow if is_bpmn(c, "conditionExpression"))


def _gateways(doc: Document, process: Element, strip: list[Element]) -> Iterable[DiagramProblem]:
    """Exclusive and inclusive gateways that split must say which way to go."""
    for tag in ("exclusiveGateway", "inclusiveGateway"):
        for gw in doc.xpath(f".//bpmn:{tag}", process):
            gid, default = gw.get("id"), gw.get("default")
            flows = doc.xpath(f"bpmn:sequenceFlow[@sourceRef='{gid}']", gw.getparent())
            if default and default not in {flow.get("id") for flow in flows}:
                ways = ", ".join(flow.get("id") or "?" for flow in flows) or "none"
                yield doc.problem(
                    gw,
                    f"default flow '{default}' is not one of the flows leaving {tag} '{gid}' (they are: {ways})",
                    "choose the default among its outgoing flows in the modeler",
                    "gateway-default",
                )
                default = None  # the flows without a condition are then reported as such
            if len(flows) < 2:
                continue
            for flow in flows:
                if flow.get("id") != default and not _has_condition(flow):
                    yield doc.problem(
                        flow,
                        f"leaves {tag} '{gid}' (\"{doc.name_of(gid)}\") without a condition",
                        "add a condition expression, or make it the gateway's default flow",
                        "gateway-condition",
                    )


def _ids_in(process: Element) -> set[str]:
    return {el.get("id") for el in process.iter() if isinstance(el.tag, str) and el.get("id")}


def _flows(doc: Document, process: Element, strip: list[Element]) -> Iterable[DiagramProblem]:
    """Dangling flows, and tasks with several ways out."""
    ids = _ids_in(process)
    outgoing = defaultdict(list)
    for flow in doc.xpath(".//bpmn:sequenceFlow", process):
        dangling = False
        for attr, role in (("sourceRef", "comes from"), ("targetRef", "leads to")):
            ref = flow.get(attr)
            if not ref:
                dangling = True
                yield doc.problem(
                    flow,
                    f"has no {attr}",
                    "connect both ends of the flow in the modeler, or delete it",
                    "dangling-flow",
                )
            elif ref not in ids:
                dangling = True
                elsewhere = doc.by_id.get(ref)
                other = doc.process_of(elsewhere) if elsewhere is not None else None
                if other is not None:
                    message = (
                        f"{role} '{ref}' (\"{doc.name_of(ref)}\"), which is in another process ('{other.get('id')}')"
                    )
                    hint = "a sequence flow stays inside its pool: use a message flow between pools"
                else:
                    message = f"{role} '{ref}', which is not an element of its process"
                    hint = "reconnect the flow to an element in the modeler, or delete it"
                yield doc.problem(flow, message, hint, "dangling-flow")
        if dangling:
            strip.append(flow)
        else:
            outgoing[flow.get("sourceRef")].append(flow)
    for source, flows in outgoing.items():
        element = doc.by_id.get(source)
        if len(flows) < 2 or element is None or local(element) in GATEWAYS or local(element) == "startEvent":
            continue
        targets = ", ".join(f'"{doc.name_of(f.get("targetRef"))}"' for f in flows)
        yield doc.problem(
            element,
            f"has {len(flows)} outgoing flows (to {targets}), but a {short_tag(element)} can leave by one flow only",
            "add a parallel gateway after it to take all of them, or an exclusive gateway with "
            "conditions to choose one",
            "implicit-split",
        )


def _structure(doc: Document, process: Element, strip: list[Element]) -> Iterable[DiagramProblem]:
    if not doc.xpath("./bpmn:startEvent", process):
        yield doc.problem(process, "has no start event", "add a start event to the process", "process-start")
    for sub in doc.xpath(".//bpmn:subProcess | .//bpmn:transaction", process):
        starts, ends = doc.xpath("./bpmn:startEvent", sub), doc.xpath("./bpmn:endEvent", sub)
        if not starts and not ends:
            yield doc.problem(
                sub,
                "is empty: a sub-process needs one start event and an end event inside it",
                "draw its start and end events (expand it in the modeler), or make it a call activity",
                "subprocess-start",
            )
            continue
        if len(starts) != 1:
            yield doc.problem(
                sub,
                f"has {len(starts)} start events; a sub-process needs exactly one",
                "give the sub-process one start event inside it",
                "subprocess-start",
            )
        if not ends:
            yield doc.problem(sub, "has no end event", "add an end event inside the sub-process", "subprocess-end")
    for call in doc.xpath(".//bpmn:callActivity", process):
        if not (call.get("calledElement") or "").strip():
            yield doc.problem(
                call,
                "calls no process: its calledElement is not set",
                "set calledElement to the id of the process to call, and deploy its file together with this one",
                "call-element",
            )


# -- data ----------------------------------------------------------------------------------------------


def _container(node: Element) -> Element | None:
    node = node.getparent()
    while node is not None and not is_bpmn(node, "process", "subProcess", "transaction", "adHocSubProcess"):
        node = node.getparent()
    return node


def _data(
    doc: Document, process: Element, strip: list[Element], data_store_classes: Collection[str]
) -> Iterable[DiagramProblem]:
    """Data associations SpiffWorkflow could not resolve: it reads data objects of the task's own
    process or sub-process (or the one around it) and data stores it has an implementation for.
    One problem per task and kind, naming every association of that kind."""
    found: dict[tuple[str, str, str], list[str]] = {}  # (task, verb, kind) -> [names], in document order
    nodes: dict[tuple[str, str, str], Element] = {}
    for association, ref_tag, verb in (
        ("dataInputAssociation", "sourceRef", "reads"),
        ("dataOutputAssociation", "targetRef", "writes"),
    ):
        for node in doc.xpath(f".//bpmn:{association}/bpmn:{ref_tag}", process):
            ref = (node.text or "").strip()
            target = doc.by_id.get(ref)
            task = owner(node)
            kind = name = ""
            if target is None:
                kind, name = "missing", f"'{ref}'"
            elif local(target) == "dataStoreReference":
                store = doc.by_id.get(target.get("dataStoreRef") or "")
                if store is None or store.get("name") not in data_store_classes:
                    kind = "store"
                    name = f"'{clean(store.get('name')) if store is not None else doc.name_of(ref)}'"
            elif local(target) == "dataObjectReference":
                wanted = target.get("dataObjectRef")
                here = _container(task) if task is not None else process
                places = [here, _container(here) if here is not None else None]
                if not any(p is not None and doc.xpath(f"./bpmn:dataObject[@id='{wanted}']", p) for p in places):
                    kind, name = "object", f"'{doc.name_of(ref)}'"
            else:
                kind, name = "other", f"'{doc.name_of(ref)}' ({short_tag(target)})"
            if kind:
                strip.append(node.getparent())
                key = (task.get("id") if task is not None else "", verb, kind)
                found.setdefault(key, [])
                if name not in found[key]:
                    found[key].append(name)
                nodes.setdefault(key, node)
    for (task_id, verb, kind), names in found.items():
        listed = ", ".join(names)
        plural = len(names) > 1
        if kind == "missing":
            message = f"{verb} {listed}, which {'are not elements' if plural else 'is not an element'} of the diagram"
            hint = "reconnect the data association in the modeler, or delete it"
        elif kind == "store":
            message = f"{verb} data store {listed}, which the engine has no implementation for"
            hint = "keep the data in the task data, or read and write it through a service task"
        elif kind == "object":
            message = f"{verb} data object {listed}, defined outside the task's process or sub-process"
            hint = "draw the data object in the same pool or sub-process as the task"
        else:
            message = f"{verb} {listed}, which {'are' if plural else 'is'} neither a data object nor a data store"
            hint = "connect the data association to a data object reference"
        yield doc.problem(nodes[(task_id, verb, kind)], message, hint, "data-association")


# -- the file against the BPMN schema --------------------------------------------------------------


def _schema(doc: Document, validator: BpmnValidator) -> list[DiagramProblem]:
    """Every place the file breaks the BPMN 2.0 schema (SpiffWorkflow's own check stops at one)."""
    duplicate = copy.deepcopy(doc.root)  # the validator rewrites some tags; positions stay
    validator.preprocess(duplicate)
    if validator.validator.validate(duplicate):
        return []
    problems = []
    by_line: dict[int, Element] = {}
    for el in doc.root.iter():
        if isinstance(el.tag, str):
            by_line.setdefault(el.sourceline, el)
    namespaces = {k: v for k, v in duplicate.nsmap.items() if k}
    for error in validator.validator.error_log:
        node = by_line.get(error.line)
        try:
            found = duplicate.getroottree().xpath(error.path, namespaces=namespaces) if error.path else []
        except Exception:  # noqa: BLE001 - a path lxml cannot evaluate: fall back on the line
            found = []
        if found and isinstance(found[0].tag, str):
            node = doc.root
            for index in _position(found[0]):
                node = node[index]
        process = doc.process_of(node) if node is not None else None
        if process is not None and not is_executable(process):
            continue
        message = error.message.replace("{" + BPMN_NS + "}", "bpmn:").replace("{" + SPIFF_NS + "}", "spiffworkflow:")
        # A loop reference that is not a name is reported by the multi-instance check already.
        code = (
            "multi-instance"
            if node is not None and local(node) in ("loopDataInputRef", "loopDataOutputRef")
            else "schema"
        )
        problems.append(
            doc.problem(
                node,
                f"does not follow the BPMN 2.0 schema: {message}",
                "open and save the file in the modeler, or correct the element",
                code,
            )
        )
    return problems


_EVENT_REFS = (
    ("errorEventDefinition", "errorRef", "error"),
    ("messageEventDefinition", "messageRef", "message"),
    ("signalEventDefinition", "signalRef", "signal"),
    ("escalationEventDefinition", "escalationRef", "escalation"),
)


def _event_refs(doc: Document, process: Element, strip: list[Element]) -> Iterable[DiagramProblem]:
    """An event's errorRef, messageRef, signalRef or escalationRef names an element the file
    declares (SpiffWorkflow 3.2 failed on a missing one with a TypeError of its own)."""
    for definition, attribute, declared in _EVENT_REFS:
        known = {node.get("id") for node in doc.xpath(f"/bpmn:definitions/bpmn:{declared}")}
        for node in doc.xpath(f".//bpmn:{definition}[@{attribute}]", process):
            ref = node.get(attribute)
            if ref not in known:
                names = ", ".join(sorted(k for k in known if k)) or "none"
                yield doc.problem(
                    node.getparent(),
                    f"{attribute} '{ref}' names no {declared} of this file (declared: {names})",
                    f'pick one of the file\'s {declared}s in the modeler, or declare <bpmn:{declared} id="{ref}">',
                    "reference",
                )


_PROCESS_CHECKS = (
    _event_refs,
    _scripts,
    _expressions,
    _timers,
    _time_limits,
    _service_tasks,
    contract_checks.operations,
    contract_checks.bpmn_messages,
    _user_tasks,
    _task_roles,
    _loops,
    _gateways,
    _flows,
    _structure,
)
