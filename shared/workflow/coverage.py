"""Coverage of a diagram by its scenarios: which elements were entered and which sequence flows
taken, as text, as an annotated copy of the BPMN file (the modeler shows covered elements and
flows green, the rest red: bpmn-js colours, ``bioc:stroke``/``bioc:fill`` and the OMG
``color:`` attributes) and as an SVG drawn from the diagram's own DI, for a browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any, cast

from lxml import etree

from .problems import NS, Element, clean

BIOC = "http://bpmn.io/schema/bpmn/biocolor/1.0"
COLOR = "http://www.omg.org/spec/BPMN/non-normative/color/1.0"
DI = {
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
GREEN, GREEN_FILL, RED, RED_FILL = "#1b7f3b", "#dff3e4", "#c0392b", "#fdecea"
# What a scenario can enter: flow nodes (not lanes, data, or the sequence flows themselves).
NODE_TAGS = {
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
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "exclusiveGateway",
    "inclusiveGateway",
    "parallelGateway",
    "eventBasedGateway",
    "complexGateway",
}


def _local(element: Element) -> str:
    return cast(str, etree.QName(element).localname)


@dataclass
class Coverage:
    diagram: str
    process_id: str
    elements: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> {"label", "type"}
    flows: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> {"label", "source", "target"}
    reached: set[str] = field(default_factory=set)
    taken: set[str] = field(default_factory=set)  # flow ids

    def add(self, reached: set[str], pairs: set[tuple[str, str]]) -> None:
        self.reached |= reached & set(self.elements)
        for flow_id, flow in self.flows.items():
            if (flow["source"], flow["target"]) in pairs:
                self.taken.add(flow_id)

    @property
    def missed_elements(self) -> list[str]:
        return [e for e in self.elements if e not in self.reached]

    @property
    def missed_flows(self) -> list[str]:
        return [f for f in self.flows if f not in self.taken]

    def percent(self) -> tuple[float, float]:
        e = 100.0 * len(self.reached) / len(self.elements) if self.elements else 100.0
        f = 100.0 * len(self.taken) / len(self.flows) if self.flows else 100.0
        return e, f

    def to_dict(self) -> dict[str, Any]:
        e, f = self.percent()
        return {
            "diagram": self.diagram,
            "process_id": self.process_id,
            "elements": {
                "total": len(self.elements),
                "covered": len(self.reached),
                "percent": round(e, 1),
                "missed": [{"id": i, **self.elements[i]} for i in self.missed_elements],
            },
            "flows": {
                "total": len(self.flows),
                "covered": len(self.taken),
                "percent": round(f, 1),
                "missed": [{"id": i, **self.flows[i]} for i in self.missed_flows],
            },
        }

    def lines(self) -> list[str]:
        e, f = self.percent()
        out = [
            f"{self.diagram}: elements {len(self.reached)}/{len(self.elements)} ({e:.0f}%), "
            f"flows {len(self.taken)}/{len(self.flows)} ({f:.0f}%)"
        ]
        for i in self.missed_elements:
            el = self.elements[i]
            out.append(
                f"  not covered: element '{i}'" + (f' "{el["label"]}"' if el["label"] else "") + f" ({el['type']})"
            )
        for i in self.missed_flows:
            fl = self.flows[i]
            src, tgt = self.elements.get(fl["source"], {}), self.elements.get(fl["target"], {})
            out.append(
                f"  not covered: flow '{i}'"
                + (f' "{fl["label"]}"' if fl["label"] else "")
                + f" ({src.get('label') or fl['source']} → {tgt.get('label') or fl['target']})"
            )
        return out


def for_diagram(name: str, content: bytes, process_id: str) -> Coverage:
    """An empty coverage of ``process_id``: every flow node and sequence flow in it, nested ones too."""
    root = etree.fromstring(content)
    process = root.find(f".//bpmn:process[@id='{process_id}']", NS)
    cov = Coverage(name, process_id)
    if process is None:
        return cov
    for element in process.iter():
        if not isinstance(element.tag, str) or element is process:
            continue
        tag = _local(element)
        if tag in NODE_TAGS and element.get("id"):
            cov.elements[element.get("id")] = {"label": clean(element.get("name")), "type": tag}
        elif tag == "sequenceFlow":
            cov.flows[element.get("id")] = {
                "label": clean(element.get("name")),
                "source": element.get("sourceRef"),
                "target": element.get("targetRef"),
            }
    return cov


def annotated_bpmn(content: bytes, cov: Coverage) -> bytes:
    """The diagram with each shape and edge coloured: green covered, red not. Opens in the modeler."""
    root = etree.fromstring(content)
    nsmap = dict(root.nsmap)
    if BIOC not in nsmap.values() or COLOR not in nsmap.values():
        nsmap.update({"bioc": BIOC, "color": COLOR})
        new_root = etree.Element(root.tag, nsmap=nsmap, attrib=dict(root.attrib))
        new_root.text = root.text
        for child in root:
            new_root.append(child)
        root = new_root
    for shape in root.iter(f"{{{DI['bpmndi']}}}BPMNShape", f"{{{DI['bpmndi']}}}BPMNEdge"):
        ref = shape.get("bpmnElement")
        edge = _local(shape) == "BPMNEdge"
        if edge and ref in cov.flows:
            covered = ref in cov.taken
        elif not edge and ref in cov.elements:
            covered = ref in cov.reached
        else:
            continue
        stroke = GREEN if covered else RED
        shape.set(f"{{{BIOC}}}stroke", stroke)
        shape.set(f"{{{COLOR}}}border-color", stroke)
        if not edge:
            fill = GREEN_FILL if covered else RED_FILL
            shape.set(f"{{{BIOC}}}fill", fill)
            shape.set(f"{{{COLOR}}}background-color", fill)
    return cast(bytes, etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def svg(content: bytes, cov: Coverage) -> str:
    """The diagram drawn from its DI (shapes, edges, labels), covered paths green, the rest red."""
    root = etree.fromstring(content)
    by_id = {e.get("id"): e for e in root.iter() if isinstance(e.tag, str) and e.get("id")}
    shapes, edges, xs, ys = [], [], [], []
    for shape in root.iter(f"{{{DI['bpmndi']}}}BPMNShape"):
        bounds = shape.find("dc:Bounds", DI)
        if bounds is None:
            continue
        x, y, w, h = (float(bounds.get(k)) for k in ("x", "y", "width", "height"))
        xs += [x, x + w]
        ys += [y, y + h]
        shapes.append((shape.get("bpmnElement"), x, y, w, h))
    for edge in root.iter(f"{{{DI['bpmndi']}}}BPMNEdge"):
        points = [(float(p.get("x")), float(p.get("y"))) for p in edge.findall("di:waypoint", DI)]
        xs += [p[0] for p in points]
        ys += [p[1] for p in points]
        edges.append((edge.get("bpmnElement"), points))
    if not xs:
        return (
            '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="40"><text x="10" y="25">'
            f"{escape(cov.diagram)} has no drawing (DI)</text></svg>"
        )
    left, top = min(xs) - 20, min(ys) - 40
    width, height = max(xs) - left + 20, max(ys) - top + 20
    e_pct, f_pct = cov.percent()
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{left} {top} {width} {height}" '
        f'width="{width:.0f}" height="{height:.0f}" font-family="sans-serif" font-size="11">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="context-stroke"/></marker></defs>',
        f'<text x="{left + 10}" y="{top + 22}" font-size="14">{escape(cov.diagram)} — elements {e_pct:.0f}%, '
        f"flows {f_pct:.0f}% covered (green: covered, red: not)</text>",
    ]
    for element_id, x, y, w, h in shapes:
        element = by_id.get(element_id)
        tag = _local(element) if element is not None else ""
        label = escape(clean(element.get("name")) if element is not None else "")
        if element_id in cov.elements:
            stroke, fill = (GREEN, GREEN_FILL) if element_id in cov.reached else (RED, RED_FILL)
        else:
            stroke, fill = "#888", "none"
        if tag in ("participant", "lane"):
            out.append(
                f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="none" stroke="#bbb"/>'
                f'<text x="{x + 4}" y="{y + 14}" fill="#777">{label}</text>'
            )
            continue
        cx, cy = x + w / 2, y + h / 2
        if tag.endswith("Event"):
            width_ = 3 if tag == "endEvent" else 1.5
            out.append(
                f'<circle cx="{cx}" cy="{cy}" r="{min(w, h) / 2}" fill="{fill}" stroke="{stroke}" '
                f'stroke-width="{width_}"/><text x="{cx}" y="{y + h + 13}" text-anchor="middle">{label}</text>'
            )
        elif tag.endswith("Gateway"):
            out.append(
                f'<polygon points="{cx},{y} {x + w},{cy} {cx},{y + h} {x},{cy}" fill="{fill}" '
                f'stroke="{stroke}" stroke-width="1.5"/><text x="{cx}" y="{y - 5}" '
                f'text-anchor="middle">{label}</text>'
            )
        else:
            out.append(
                f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="{fill}" stroke="{stroke}" '
                f'stroke-width="1.5"/>' + _wrapped(label, cx, y, w, h)
            )
    for flow_id, points in edges:
        if not points:
            continue
        stroke = (GREEN if flow_id in cov.taken else RED) if flow_id in cov.flows else "#888"
        path = " ".join(f"{px},{py}" for px, py in points)
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{stroke}" stroke-width="1.5" marker-end="url(#arrow)"/>'
        )
        element = by_id.get(flow_id)
        label = clean(element.get("name")) if element is not None else ""
        if label:
            mx, my = points[len(points) // 2 - 1] if len(points) > 1 else points[0]
            out.append(f'<text x="{mx + 4}" y="{my - 4}" fill="#555">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _wrapped(label: str, cx: float, y: float, w: float, h: float) -> str:
    words, lines, line = label.split(), [], ""
    limit = max(int(w / 6.2), 8)
    for word in words:
        if line and len(line) + 1 + len(word) > limit:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    if not lines and label:
        lines = [label]
    top = y + h / 2 - (len(lines) - 1) * 6.5 + 4
    return "".join(f'<text x="{cx}" y="{top + i * 13}" text-anchor="middle">{t}</text>' for i, t in enumerate(lines))
