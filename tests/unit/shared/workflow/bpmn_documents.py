"""Small inline BPMN documents for the unit tests (namespaces as in ``bpmn/smoke.bpmn``)."""

from __future__ import annotations

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
                  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
                  xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_unit" targetNamespace="http://zhitongche.example/bpmn">
"""


def definitions(body: str, process_id: str = "proposal", name: str = "Proposal", executable: bool = True) -> str:
    return (
        HEAD
        + f'  <bpmn:process id="{process_id}" name="{name}" isExecutable="{str(executable).lower()}">\n'
        + body
        + "  </bpmn:process>\n</bpmn:definitions>\n"
    )


def script_process(script: str = "total = price * quantity", **kwargs) -> str:
    """start -> script task ``calc`` -> end."""
    return definitions(
        f"""\
    <bpmn:startEvent id="start"><bpmn:outgoing>f_start_calc</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="calc" name="Compute the total">
      <bpmn:incoming>f_start_calc</bpmn:incoming>
      <bpmn:outgoing>f_calc_end</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f_calc_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_start_calc" sourceRef="start" targetRef="calc"/>
    <bpmn:sequenceFlow id="f_calc_end" sourceRef="calc" targetRef="end"/>
""",
        **kwargs,
    )


def gateway_process(
    condition: str = "total &gt; 100",
    default: str | None = "f_small",
    condition_id: str | None = None,
    script: str = "total = price * quantity",
) -> str:
    """start -> script ``calc`` -> exclusive gateway ``decide`` -> ``f_big`` (conditional) / ``f_small``."""
    default_attr = f' default="{default}"' if default else ""
    cond_id_attr = f' id="{condition_id}"' if condition_id else ""
    return definitions(f"""\
    <bpmn:startEvent id="start"><bpmn:outgoing>f_start_calc</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="calc" name="Compute the total">
      <bpmn:incoming>f_start_calc</bpmn:incoming>
      <bpmn:outgoing>f_calc_decide</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="decide" name="Big order?"{default_attr}>
      <bpmn:incoming>f_calc_decide</bpmn:incoming>
      <bpmn:outgoing>f_big</bpmn:outgoing>
      <bpmn:outgoing>f_small</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="end_big"><bpmn:incoming>f_big</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_small"><bpmn:incoming>f_small</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_start_calc" sourceRef="start" targetRef="calc"/>
    <bpmn:sequenceFlow id="f_calc_decide" sourceRef="calc" targetRef="decide"/>
    <bpmn:sequenceFlow id="f_big" sourceRef="decide" targetRef="end_big">
      <bpmn:conditionExpression{cond_id_attr}>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_small" sourceRef="decide" targetRef="end_small"/>
""")


def service_process(operation: str = "intake.record_submission", parameter_value: str = "title") -> str:
    """start -> service task ``record`` (one parameter ``title``) -> end."""
    return definitions(f"""\
    <bpmn:startEvent id="start"><bpmn:outgoing>f_start_record</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="record" name="Record the submission">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="{operation}" resultVariable="submission">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="title" type="str" value="{parameter_value}"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f_start_record</bpmn:incoming>
      <bpmn:outgoing>f_record_end</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f_record_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_start_record" sourceRef="start" targetRef="record"/>
    <bpmn:sequenceFlow id="f_record_end" sourceRef="record" targetRef="end"/>
""")


def timer_process(duration: str = "'PT1H'") -> str:
    """start -> intermediate timer ``wait`` (duration) -> end."""
    return definitions(f"""\
    <bpmn:startEvent id="start"><bpmn:outgoing>f_start_wait</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait" name="Wait for the deadline">
      <bpmn:incoming>f_start_wait</bpmn:incoming>
      <bpmn:outgoing>f_wait_end</bpmn:outgoing>
      <bpmn:timerEventDefinition id="TimerDef_wait">
        <bpmn:timeDuration>{duration}</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f_wait_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_start_wait" sourceRef="start" targetRef="wait"/>
    <bpmn:sequenceFlow id="f_wait_end" sourceRef="wait" targetRef="end"/>
""")


def line_of(document: str, fragment: str) -> int:
    """1-based line number of the first line of ``document`` containing ``fragment``."""
    for number, line in enumerate(document.splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not in the document")


def multi_instance_process(loop: str) -> str:
    """start -> parallel multi-instance script task ``each`` -> end; ``loop``: its cardinality or input."""
    return definitions(f"""\
    <bpmn:startEvent id="start"><bpmn:outgoing>f_start_each</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="each" name="Note each">
      <bpmn:incoming>f_start_each</bpmn:incoming>
      <bpmn:outgoing>f_each_end</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics>{loop}</bpmn:multiInstanceLoopCharacteristics>
      <bpmn:script>noted = True</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f_each_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_start_each" sourceRef="start" targetRef="each"/>
    <bpmn:sequenceFlow id="f_each_end" sourceRef="each" targetRef="end"/>
""")
