"""What changed between two versions of a process, element by element (by id, with labels).

Compares the BPMN files two versions were deployed from: every element of the process (tasks,
events, gateways, sequence flows, sub-processes and their contents, lanes, data objects) is
matched by id; an element is *changed* when its label, type, attributes (a gateway's default flow,
a flow's source or target, a boundary event's host…) or the content a modeler edits in its
properties panel (operation and parameters, form, condition, script, timer, message…) differ.
The diagram's drawing (DI) is not compared: moving a shape changes nothing that runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from lxml import etree

from .problems import NS, Element, clean

# A comparable form of an element: tag, attributes, text and the same of its children.
Canonical = tuple[str, tuple[tuple[str, str], ...], str, tuple["Canonical", ...]]
# A version's files: {file name: content}.
Files = Mapping[str, bytes | str]


def local(name: str | Element) -> str:
    """The local part of a tag or attribute name (or of an element's tag)."""
    if not isinstance(name, str):
        name = name.tag
    return cast(str, etree.QName(name).localname)


# Children that restate what sequence flows say already.
_REDUNDANT = {"incoming", "outgoing", "flowNodeRef"}
_ASPECTS = {
    "extensionElements": "properties (operation, parameters, form, candidates…)",
    "conditionExpression": "condition",
    "script": "script",
    "timerEventDefinition": "timer",
    "messageEventDefinition": "message",
    "errorEventDefinition": "error",
    "signalEventDefinition": "signal",
    "escalationEventDefinition": "escalation",
    "multiInstanceLoopCharacteristics": "multi-instance",
    "standardLoopCharacteristics": "loop",
    "documentation": "documentation",
    "ioSpecification": "data inputs/outputs",
    "dataInputAssociation": "data inputs",
    "dataOutputAssociation": "data outputs",
}
_ATTRIBUTES = {
    "default": "default flow",
    "sourceRef": "from",
    "targetRef": "to",
    "attachedToRef": "attached to",
    "calledElement": "called process",
    "cancelActivity": "interrupting",
    "isForCompensation": "compensation",
}
_CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess"}


def _canonical(element: Element) -> Canonical:
    """A comparable form of ``element``'s content: tags, attributes (the ids of BPMN elements left
    out: a modeler renumbers event definitions freely; an extension's ``id`` is kept, it can be
    what runs, as ``spiffworkflow:serviceTaskOperator id="<service>.<operation>"``) and
    whitespace-normalised text, recursively."""
    bpmn = etree.QName(element).namespace == NS["bpmn"]
    attrs = tuple(sorted((local(k), v) for k, v in element.attrib.items() if not (bpmn and local(k) == "id")))
    text = " ".join((element.text or "").split())
    children = tuple(_canonical(c) for c in element if isinstance(c.tag, str))
    return local(element.tag), attrs, text, children


def _elements(root: Element, process_id: str) -> dict[str, Element]:
    """``{id: element}`` of every element of the process (nested ones too), DI excluded."""
    process = root.find(f".//bpmn:process[@id='{process_id}']", NS)
    if process is None:
        return {}
    found = {process_id: process}

    def walk(container: Element) -> None:
        for child in container:
            if not isinstance(child.tag, str):
                continue
            tag = local(child.tag)
            if tag == "laneSet":
                for lane in child.iter(f"{{{NS['bpmn']}}}lane"):
                    found[lane.get("id")] = lane
                continue
            if tag in ("extensionElements", "documentation", "ioSpecification", "property"):
                continue
            if child.get("id"):
                found[child.get("id")] = child
            if tag in _CONTAINERS:
                walk(child)

    walk(process)
    return found


def _signature(element: Element) -> dict[str, object]:
    tag = local(element.tag)
    aspects: dict[str, object] = {"type": tag, "label": clean(element.get("name")) or ""}
    for key, value in element.attrib.items():
        name = local(key)
        if name in ("id", "name"):
            continue
        aspects[_ATTRIBUTES.get(name, name)] = value
    nested: dict[str, list[Canonical]] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        ctag = local(child.tag)
        if ctag in _REDUNDANT:
            continue
        if tag in _CONTAINERS and child.get("id") and ctag not in _ASPECTS:
            continue  # a nested element: compared on its own
        nested.setdefault(_ASPECTS.get(ctag, ctag), []).append(_canonical(child))
    for aspect, value in nested.items():
        aspects[aspect] = tuple(value)
    return aspects


def _describe_change(aspect: str, old: object, new: object) -> str:
    if isinstance(old, tuple) or isinstance(new, tuple):
        detail = _detail(aspect, old, new)
        return f"{aspect} changed" + (f": {detail}" if detail else "")
    return (
        f"{aspect}: {old!r} → {new!r}"
        if old is not None and new is not None
        else (f"{aspect} {new!r} added" if old is None else f"{aspect} {old!r} removed")
    )


def _flatten(value: object) -> list[str]:
    """Readable leaves of a canonical form: ``attr=value`` pairs and texts."""
    out: list[str] = []

    def walk(node: Canonical) -> None:
        tag, attrs, text, children = node
        if attrs:
            out.append(f"{tag}(" + ", ".join(f"{k}={v}" for k, v in attrs) + ")")
        if text:
            out.append(f"{tag}: {text}")
        for c in children:
            walk(c)

    for node in cast("tuple[Canonical, ...]", value or ()):
        walk(node)
    return out


def _detail(aspect: str, old: object, new: object) -> str:
    before, after = _flatten(old), _flatten(new)
    gone = [x for x in before if x not in after]
    came = [x for x in after if x not in before]
    parts = []
    if gone:
        parts.append("was " + "; ".join(gone))
    if came:
        parts.append("now " + "; ".join(came))
    return " — ".join(parts)[:400]


def _row(element_id: str, element: Element) -> dict[str, Any]:
    return {"id": element_id, "type": local(element.tag), "label": clean(element.get("name")) or ""}


def diff(files_a: Files, files_b: Files, process_id: str) -> dict[str, Any]:
    """Elements of ``process_id`` added, removed and changed from the files of A to those of B."""

    def elements(files: Files) -> dict[str, Element]:
        found: dict[str, Element] = {}
        for name, content in files.items():
            if not name.endswith(".bpmn"):
                continue
            data = content if isinstance(content, bytes) else content.encode()
            found.update(_elements(etree.fromstring(data), process_id))
        return found

    a, b = elements(files_a), elements(files_b)
    added = [_row(i, b[i]) for i in b if i not in a]
    removed = [_row(i, a[i]) for i in a if i not in b]
    changed = []
    for element_id in a:
        if element_id not in b:
            continue
        old, new = _signature(a[element_id]), _signature(b[element_id])
        if old == new:
            continue
        changes = [
            _describe_change(k, old.get(k), new.get(k)) for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k)
        ]
        row = _row(element_id, b[element_id])
        if old["label"] != new["label"]:
            row["old_label"] = old["label"]
        changed.append({**row, "changes": changes})
    return {"process_id": process_id, "added": added, "removed": removed, "changed": changed}


def file_of(files: Files, process_id: str) -> str:
    """The name of the BPMN file among ``files`` (deployed together) that holds ``process_id``."""
    for name in sorted(files):
        if not name.endswith(".bpmn"):
            continue
        content = files[name]
        root = etree.fromstring(content if isinstance(content, bytes) else content.encode())
        if root.find(f".//bpmn:process[@id='{process_id}']", NS) is not None:
            return name
    raise LookupError(f"no file of the version holds process '{process_id}'")


def markers(result: Mapping[str, Any]) -> dict[str, dict[str, list[str]]]:
    """Where a viewer marks a diff: on the old diagram (``old``) what was removed or changed, on the
    new one (``new``) what was added or changed, each ``{element id: [marker class]}``. A removed
    element cannot be drawn on the new diagram: it is marked on the old one only."""
    old = {r["id"]: ["removed"] for r in result["removed"]}
    new = {r["id"]: ["added"] for r in result["added"]}
    for r in result["changed"]:
        old[r["id"]] = new[r["id"]] = ["changed"]
    old.pop(result["process_id"], None)
    new.pop(result["process_id"], None)
    return {"old": old, "new": new}


def render(result: Mapping[str, Any]) -> list[str]:
    """The diff as lines for a terminal."""

    def name(r: Mapping[str, Any]) -> str:
        return f'{r["id"]} "{r["label"]}" ({r["type"]})' if r["label"] else f"{r['id']} ({r['type']})"

    lines = []
    for r in result["added"]:
        lines.append(f"+ added    {name(r)}")
    for r in result["removed"]:
        lines.append(f"- removed  {name(r)}")
    for r in result["changed"]:
        lines.append(f"~ changed  {name(r)}")
        lines.extend(f"             {c}" for c in r["changes"])
    return lines or ["no element differs (only the drawing, comments or other processes may)"]
