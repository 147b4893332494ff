"""Is a diagram drawn completely, with no shape on top of another? (Checked for every product
diagram by the BPMN tests.)

A modeler opens a file only as well as its DI (BPMNDiagram) draws it: an element without a shape
is invisible there, and shapes laid over one another hide each other. Complete means every flow
node, boundary event, sequence flow and lane of each process has a shape or an edge (an edge with
two waypoints at least). Overlap is two shapes' bounds intersecting, except a boundary event on its
host's border, and a container (pool, lane, sub-process) around what it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from lxml import etree

from .coverage import DI, NODE_TAGS
from .problems import NS, Element, clean

# A shape's bounds: x, y, width, height.
Box = tuple[float, ...]

_CONTAINERS = {"participant", "lane", "subProcess", "transaction", "adHocSubProcess"}


@dataclass(frozen=True)
class DrawingProblem:
    element_id: str
    label: str
    message: str

    def __str__(self) -> str:
        return f"element '{self.element_id}'" + (f' "{self.label}"' if self.label else "") + f": {self.message}"


def _local(element: Element) -> str:
    return cast(str, etree.QName(element).localname)


def problems(content: bytes) -> list[DrawingProblem]:
    root = etree.fromstring(content)
    by_id = {e.get("id"): e for e in root.iter() if isinstance(e.tag, str) and e.get("id")}
    shapes: dict[str, Box] = {}
    edges: dict[str, int] = {}
    for shape in root.iter(f"{{{DI['bpmndi']}}}BPMNShape"):
        bounds = shape.find("dc:Bounds", DI)
        if bounds is not None:
            shapes[shape.get("bpmnElement")] = tuple(float(bounds.get(k)) for k in ("x", "y", "width", "height"))
    for edge in root.iter(f"{{{DI['bpmndi']}}}BPMNEdge"):
        edges[edge.get("bpmnElement")] = len(edge.findall("di:waypoint", DI))
    found: list[DrawingProblem] = []

    def label(element_id: str) -> str:
        element = by_id.get(element_id)
        return clean(element.get("name")) if element is not None else ""

    for process in root.iterfind(".//bpmn:process", NS):
        for element in process.iter():
            if not isinstance(element.tag, str) or not element.get("id"):
                continue
            tag, element_id = _local(element), element.get("id")
            if tag in NODE_TAGS or tag == "lane":
                if element_id not in shapes:
                    found.append(DrawingProblem(element_id, label(element_id), f"{tag} has no shape in the diagram"))
            elif tag == "sequenceFlow":
                if edges.get(element_id, 0) < 2:
                    found.append(
                        DrawingProblem(
                            element_id,
                            label(element_id),
                            "sequence flow has no edge (with two waypoints) in the diagram",
                        )
                    )
    drawn = [(i, b) for i, b in shapes.items() if i in by_id]
    for n, (a, box_a) in enumerate(drawn):
        for b, box_b in drawn[n + 1 :]:
            if _allowed(by_id[a], by_id[b]) or not _intersect(box_a, box_b):
                continue
            found.append(
                DrawingProblem(
                    a, label(a), f"its shape overlaps that of '{b}'" + (f' "{label(b)}"' if label(b) else "")
                )
            )
    return found


def _intersect(a: Box, b: Box) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def _allowed(a: Element, b: Element) -> bool:
    """Shapes that may overlap: a container and anything, a boundary event and its host."""
    ta, tb = _local(a), _local(b)
    if ta in _CONTAINERS or tb in _CONTAINERS:
        return True
    if ta == "boundaryEvent" and a.get("attachedToRef") == b.get("id"):
        return True
    if tb == "boundaryEvent" and b.get("attachedToRef") == a.get("id"):
        return True
    return False
