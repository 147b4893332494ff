"""Service tasks as Camunda Modeler 8 writes them, read as our own.

With the element templates of ``ztc templates`` (:mod:`shared.workflow.templates`), Camunda Modeler
writes a job as::

    <bpmn:serviceTask id="dupes" name="Look for duplicates">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="intake.find_duplicates" />
        <zeebe:ioMapping><zeebe:input source="proposal_id" target="proposal_id" /></zeebe:ioMapping>
        <zeebe:taskHeaders><zeebe:header key="resultVariable" value="duplicates" /></zeebe:taskHeaders>
      </bpmn:extensionElements>
    </bpmn:serviceTask>

Before the checks and SpiffWorkflow's parse see a file, :func:`normalize` adds to such a task the
``spiffworkflow:serviceTaskOperator`` it means (operation = the type, a parameter per input, the
result variable from the header, else the operation's name), so everything after — the contract
checks, the job, the engine — is the same whichever modeler drew it. A source may start with
``=`` (the modeler's FEEL marker): it is left out, and what follows is read as the Python
expression every parameter is. The file stored is the designer's, untouched.
"""

from __future__ import annotations

from lxml import etree

from .problems import NS, SPIFF_NS, Element

ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
_Z = {"zeebe": ZEEBE_NS, **NS}


def normalize(root: Element) -> int:
    """Add the spiffworkflow form of every zeebe service task in ``root``; returns how many."""
    done = 0
    for task in root.iterfind(".//bpmn:serviceTask", _Z):
        ext = task.find("bpmn:extensionElements", _Z)
        if ext is None or ext.find("spiffworkflow:serviceTaskOperator", _Z) is not None:
            continue
        definition = ext.find("zeebe:taskDefinition", _Z)
        if definition is None:
            continue
        operation = (definition.get("type") or "").strip()
        headers = {h.get("key"): h.get("value") for h in ext.iterfind("zeebe:taskHeaders/zeebe:header", _Z)}
        result = headers.get("resultVariable") or operation.rsplit(".", 1)[-1] or "result"
        operator = etree.SubElement(ext, f"{{{SPIFF_NS}}}serviceTaskOperator", id=operation, resultVariable=result)
        operator.sourceline = definition.sourceline
        params = etree.SubElement(operator, f"{{{SPIFF_NS}}}parameters")
        params.sourceline = definition.sourceline
        for source in ext.iterfind("zeebe:ioMapping/zeebe:input", _Z):
            value = (source.get("source") or "").strip()
            if value.startswith("="):
                value = value[1:].strip()
            param = etree.SubElement(
                params, f"{{{SPIFF_NS}}}parameter", id=source.get("target") or "", type="any", value=value
            )
            param.sourceline = source.sourceline
        retries = (definition.get("retries") or "").strip()
        if retries.isdigit():
            etree.SubElement(operator, f"{{{SPIFF_NS}}}retry", retries=retries).sourceline = definition.sourceline
        done += 1
    return done
