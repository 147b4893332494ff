"""What a refused diagram is told, and where in the file each problem is.

Every problem names the file, the line, the element (its id and the label the modeler shows) and
says how to fix it. :class:`Document` indexes one parsed file so that any check, ours or
SpiffWorkflow's, can point at the element a designer looks for in the modeler.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, TypeAlias, cast

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import DEFAULT_NSMAP

BPMN_NS = DEFAULT_NSMAP["bpmn"]
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = dict(DEFAULT_NSMAP, spiffworkflow=SPIFF_NS)

# An element of a parsed file. lxml ships no type information: to mypy this is Any.
Element: TypeAlias = "etree._Element"


@dataclass(frozen=True)
class DiagramProblem:
    """One reason a diagram is refused (or, from ``ztc lint``, one finding).

    ``label`` is what the modeler shows for the element (its name; for a sequence flow its name and
    the labels of the elements it joins); ``hint`` says what to write instead; ``code`` names the
    check, so the same cause found twice is reported once.
    """

    file: str
    element_id: str
    element_type: str
    message: str
    line: int | None = None
    label: str = ""
    hint: str = ""
    code: str = ""

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "") + ":"
        parts = [where]
        if self.element_id:
            parts.append(f"element '{self.element_id}'")
        if self.label:
            parts.append(f'"{self.label}"')
        if self.element_type:
            parts.append(f"({self.element_type})")
        parts.append(self.message)
        text = " ".join(parts)
        return f"{text} — {self.hint}" if self.hint else text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DiagramError(Exception):
    """A diagram was refused; ``problems`` lists every reason found, ``notes`` what was set aside."""

    def __init__(self, problems: Iterable[DiagramProblem], notes: Iterable[str] = ()) -> None:
        self.problems = list(problems)
        self.notes = list(notes)
        super().__init__("\n".join(str(p) for p in self.problems))


def short_tag(node: Element) -> str:
    q = etree.QName(node)
    prefix = {BPMN_NS: "bpmn", SPIFF_NS: "spiffworkflow"}.get(q.namespace, q.namespace)
    return f"{prefix}:{q.localname}" if prefix else q.localname


def local(node: Element) -> str:
    return cast(str, etree.QName(node).localname) if isinstance(node.tag, str) else ""


def is_bpmn(node: Element, *names: str) -> bool:
    if not isinstance(node.tag, str):
        return False
    q = etree.QName(node)
    return q.namespace == BPMN_NS and (not names or q.localname in names)


# Elements that carry an id of their own but are parts of the element a designer looks for.
_PARTS = {
    "conditionExpression",
    "condition",
    "timeDuration",
    "timeDate",
    "timeCycle",
    "script",
    "completionCondition",
    "loopCardinality",
    "loopCondition",
    "formalExpression",
    "extensionElements",
    "multiInstanceLoopCharacteristics",
    "standardLoopCharacteristics",
    "ioSpecification",
    "dataInput",
    "dataOutput",
    "inputSet",
    "outputSet",
    "dataInputAssociation",
    "dataOutputAssociation",
    "loopDataInputRef",
    "loopDataOutputRef",
    "inputDataItem",
    "outputDataItem",
    "property",
}

CONTAINERS = ("process", "subProcess", "transaction", "adHocSubProcess")


def _is_part(node: Element) -> bool:
    name = local(node)
    return name in _PARTS or name.endswith("EventDefinition")


def owner(node: Element | None) -> Element | None:
    """The nearest BPMN element (self or ancestor) a designer would look for in the modeler."""
    while node is not None:
        if isinstance(node.tag, str) and node.get("id") is not None and is_bpmn(node) and not _is_part(node):
            return node
        node = node.getparent()
    return None


def clean(text: str | None) -> str:
    """A name as the modeler shows it: whitespace (line breaks included) folded to single spaces."""
    return re.sub(r"\s+", " ", text or "").strip()


class Document:
    """One BPMN file, parsed, with its elements indexed by id."""

    def __init__(self, filename: str, root: Element, source: bytes | str | None = None) -> None:
        self.filename = filename
        self.root = root
        if isinstance(source, bytes):
            source = source.decode("utf-8", "replace")
        self._lines = source.splitlines() if source else []
        self.by_id: dict[str, Element] = {}
        for el in root.iter():
            if isinstance(el.tag, str) and el.get("id") and el.get("id") not in self.by_id:
                self.by_id[el.get("id")] = el
        self.expression_language = root.get("expressionLanguage") or ""

    def xpath(self, path: str, node: Element | None = None) -> list[Element]:
        return cast(list[Element], (self.root if node is None else node).xpath(path, namespaces=NS))

    # -- what the designer sees ------------------------------------------------------------------
    def name_of(self, element_id: str) -> str:
        """The label of an element, or its id if it has none (or is not in the file)."""
        el = self.by_id.get(element_id)
        if el is None:
            return element_id
        return clean(el.get("name")) or element_id

    def label(self, node: Element | None) -> str:
        if node is None:
            return ""
        name = clean(node.get("name"))
        if local(node) == "process" and not name:
            for participant in self.xpath(f".//bpmn:participant[@processRef='{node.get('id')}']"):
                name = clean(participant.get("name"))
        if local(node) == "sequenceFlow":
            ends = f"{self.name_of(node.get('sourceRef') or '?')} → {self.name_of(node.get('targetRef') or '?')}"
            return f"{name} ({ends})" if name else ends
        return name

    def process_of(self, node: Element | None) -> Element | None:
        while node is not None:
            if is_bpmn(node, "process"):
                return node
            node = node.getparent()
        return None

    def line(self, node: Element) -> int:
        """The line an element starts on. lxml gives the line where its start tag ends, which for a
        tag written over several lines is not where a designer looks."""
        line = getattr(node, "sourceline", None) or self.root.sourceline or 1
        if not self._lines or not isinstance(node.tag, str):
            return line
        prefix = node.prefix
        opening = f"<{prefix}:{local(node)}" if prefix else f"<{local(node)}"
        for candidate in range(min(line, len(self._lines)), max(line - 50, 0), -1):
            text = self._lines[candidate - 1]
            at = text.find(opening)
            if at >= 0 and (
                len(text) == at + len(opening)
                or not (text[at + len(opening)].isalnum() or text[at + len(opening)] in ":_-")
            ):
                return candidate
        return line

    # -- problems ---------------------------------------------------------------------------------
    def problem(self, node: Element | None, message: str, hint: str = "", code: str = "") -> DiagramProblem:
        """A problem about ``node`` (or the element it is part of), at its line."""
        element = owner(node) if node is not None else None
        if element is None:
            line = self.line(node) if node is not None else self.line(self.root)
            return DiagramProblem(self.filename, "", "", message, line, "", hint, code)
        return DiagramProblem(
            self.filename,
            element.get("id"),
            short_tag(element),
            message,
            self.line(element),
            self.label(element),
            hint,
            code,
        )

    def problem_at(
        self, element_id: str | None, message: str, hint: str = "", code: str = "", fallback: Element | None = None
    ) -> DiagramProblem:
        """A problem about the element with ``element_id``; else about ``fallback`` (a process or
        participant); else about the file, at the line of its root element."""
        node = self.by_id.get(element_id) if element_id else None
        if node is None:
            node = fallback
        if node is None:
            return DiagramProblem(self.filename, "", "", message, self.line(self.root), "", hint, code)
        return self.problem(node, message, hint, code)


def is_executable(process: Element) -> bool:
    """SpiffWorkflow's reading: a process without the attribute is executable."""
    return bool(process.get("isExecutable", "true") == "true")
