"""The operators' console in Debian's chromium, every service running: an instance stuck for real
(its job names a unit the directory lacks, a business error no boundary event catches) is found
by its business key, seen on its diagram with the incident marked, retried once the unit is in the
directory, and seen moving on — by keyboard alone; the queues, incidents and dead-letter pages
(a dead letter shown and discarded with a reason); and a non-operator sees no operator page."""

from __future__ import annotations

import uuid

import pytest

from tests.support import publish, wait_for

from .conftest import call, once_on_sqlite
from .test_console_flow import chrome, console, log_in, open_until, press, shown, text_of  # noqa: F401 - fixtures

_once = once_on_sqlite("the console is driven in a browser once, on SQLite")

PROCESS = "console_ops_stuck"
# start -> assign a unit (assignment.assign_unit; no boundary event: no_unit is an incident)
#       -> an operator confirms -> end. With its diagram interchange, so the viewer draws it.
STUCK_BPMN = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
                  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
                  xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_ops_stuck" targetNamespace="http://zhitongche.example/bpmn">
  <bpmn:process id="{PROCESS}" name="Console operators' stuck instance" isExecutable="true">
    <bpmn:startEvent id="start" name="Started"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="assign" name="Assign the unit">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="assignment.assign_unit" resultVariable="assignment">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="submission_id" type="int" value="submission_id"/>
            <spiffworkflow:parameter id="unit" type="str" value="unit"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:userTask id="confirm" name="Confirm the assignment">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="candidateRole" value="operator"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end" name="Done"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="assign"/>
    <bpmn:sequenceFlow id="f2" sourceRef="assign" targetRef="confirm"/>
    <bpmn:sequenceFlow id="f3" sourceRef="confirm" targetRef="end"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_ops_stuck">
    <bpmndi:BPMNPlane id="Plane_ops_stuck" bpmnElement="{PROCESS}">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="100" y="100" width="36" height="36"/></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="assign_di" bpmnElement="assign"><dc:Bounds x="190" y="78" width="100" height="80"/></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="confirm_di" bpmnElement="confirm"><dc:Bounds x="350" y="78" width="100" height="80"/></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_di" bpmnElement="end"><dc:Bounds x="510" y="100" width="36" height="36"/></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="f1_di" bpmnElement="f1"><di:waypoint x="136" y="118"/><di:waypoint x="190" y="118"/></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f2_di" bpmnElement="f2"><di:waypoint x="290" y="118"/><di:waypoint x="350" y="118"/></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f3_di" bpmnElement="f3"><di:waypoint x="450" y="118"/><di:waypoint x="510" y="118"/></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def stuck_instance(system) -> tuple[dict, str]:
    """An instance of the stuck process with an open incident on ``assign``, and the unit it lacks."""
    base, operator = system.base, system.tokens["operator"]
    deployed = call(base, operator, "POST", "/api/deployments", {"files": {f"{PROCESS}.bpmn": STUCK_BPMN}})
    assert deployed.status_code == 201, deployed.text
    unit, key = f"harbour_{uuid.uuid4().hex[:8]}", f"OPS-{uuid.uuid4().hex[:8].upper()}"
    started = call(
        base,
        operator,
        "POST",
        f"/api/processes/{PROCESS}/instances",
        {"business_key": key, "data": {"submission_id": 1, "unit": unit}},
    )
    assert started.status_code == 201, started.text

    def incident():
        inst = call(base, operator, "GET", f"/api/instances/{started.json()['id']}").json()
        return inst if inst["status"] == "incident" else None

    return wait_for(incident, timeout=60, message="the instance's incident"), unit


def add_unit(settings, unit: str) -> None:
    """The cause removed: the unit is entered in the directory as the seeding enters units."""
    from services.assignment.operations import ensure_units
    from services.assignment.unit_of_work import SqlAssignmentUnitOfWork
    from shared.db import session_factory, transaction

    with transaction(session_factory(settings.database_url("assignment"))) as s:
        assert ensure_units(SqlAssignmentUnitOfWork(s), {unit: "港务局 (test)"}) == 1


def tab_to(driver, css: str, limit: int = 80):
    """Press Tab until the element matching ``css`` has the focus (keyboard only); returns it."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    target = driver.find_element(By.CSS_SELECTOR, css)
    for _ in range(limit):
        if driver.switch_to.active_element == target:
            return target
        ActionChains(driver).send_keys(Keys.TAB).perform()
    raise AssertionError(f"{css} never got the focus by Tab")


def diagram_element(driver, element_id: str):
    """The SVG group bpmn-js drew for ``element_id`` once the diagram is ready."""
    from selenium.webdriver.common.by import By

    ready = wait_for(
        lambda: driver.find_element(By.ID, "diagram").get_attribute("data-diagram-ready"),
        timeout=20,
        message="the diagram drawn",
    )
    assert ready == "true", f"the diagram failed: {text_of(driver, 'diagram')}"
    return driver.find_element(By.CSS_SELECTOR, f'#diagram [data-element-id="{element_id}"]')


def csp_violations(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


@pytest.mark.browser
def test_an_operator_finds_a_stuck_instance_on_its_diagram_and_retries_its_incident(system, console, chrome):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, camera = chrome
    inst, unit = stuck_instance(system)
    [incident] = inst["incidents"]
    assert incident["task"] == "assign" and unit in incident["error"]

    log_in(driver, console, "ops.sun")
    nav = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "header nav a")]
    assert {console + p for p in ("/ops/instances", "/ops/incidents", "/ops/queues", "/ops/dead-letters")} <= set(nav)

    # By keyboard alone: the search field, the business key, Enter; the instance found, Enter.
    driver.get(console + "/ops/instances")
    tab_to(driver, "#business_key").send_keys(inst["business_key"] + Keys.ENTER)
    found = open_until(driver, driver.current_url, f'tr[data-instance="{inst["id"]}"] a')
    camera.check("ops-instances")
    tab_to(driver, f'tr[data-instance="{inst["id"]}"] a').send_keys(Keys.ENTER)
    wait_for(lambda: driver.current_url.endswith(f"/ops/instances/{inst['id']}"), timeout=10, message="the instance")
    assert found is not None

    # On the diagram: the incident marked and badged, the start done; the same in the list.
    assign = diagram_element(driver, "assign")
    assert "incident" in assign.get_attribute("class").split()
    assert "done" in diagram_element(driver, "start").get_attribute("class").split()
    assert driver.find_elements(By.CSS_SELECTOR, ".diagram-badge.incident")
    row = driver.find_element(By.CSS_SELECTOR, 'li[data-element="assign"]')
    assert row.get_attribute("data-state") == "incident" and "ztc.jobs.assignment" in row.text
    assert driver.find_element(By.ID, "instance-status").get_attribute("data-status") == "incident"
    assert unit in driver.find_element(By.ID, "variables").text
    assert csp_violations(driver) == [], "the diagram page broke the console's CSP"
    camera.check("ops-instance-incident", doc="console-operator-instance")

    # The cause removed, the incident retried by keyboard: the instance moves on to ``confirm``.
    add_unit(system.settings, unit)
    retry = tab_to(driver, f"#retry-{incident['id']}")
    retry.send_keys(Keys.ENTER)
    back = f"/ops/instances/{inst['id']}?incident={incident['id']}&done=retrying"
    wait_for(lambda: driver.current_url.endswith(back), timeout=10, message="back")
    told = driver.find_element(By.ID, "incident-done").text
    assert f"事件 {incident['id']}" in told or f"Incident {incident['id']}" in told, told
    # (The instance waits for the job sent again first, then at ``confirm`` once the unit answered.)
    open_until(driver, driver.current_url, 'li[data-element="confirm"][data-state="token"]')
    assert driver.find_element(By.ID, "instance-status").get_attribute("data-status") == "waiting"
    assert "token" in diagram_element(driver, "confirm").get_attribute("class").split()
    assert "done" in diagram_element(driver, "assign").get_attribute("class").split()
    assert "incident_retry" in driver.find_element(By.ID, "history").text
    camera.check("ops-instance-moved-on")
    after = call(system.base, system.tokens["operator"], "GET", f"/api/instances/{inst['id']}").json()
    assert after["status"] == "waiting" and after["waiting_tasks"] == ["confirm"] and after["incidents"] == []

    # Cancelled with a reason of two lines: kept as typed (the browser sends the line break as CR LF).
    driver.find_element(By.ID, "cancel-reason").send_keys("测试结束\n数据已清理")
    press(driver, shown(driver, "#cancel"))
    assert driver.find_element(By.ID, "instance-status").get_attribute("data-status") == "cancelled"
    history = call(system.base, system.tokens["operator"], "GET", f"/api/instances/{inst['id']}/history").json()
    [cancelled] = [h for h in history if h["action"] == "cancelled"]
    assert cancelled["data"]["reason"] == "测试结束\n数据已清理"


@pytest.mark.browser
def test_an_operator_reads_the_queues_and_incidents_and_discards_a_dead_letter_with_a_reason(system, console, chrome):
    from selenium.webdriver.common.by import By

    driver, camera = chrome
    settings = system.settings
    publish(
        settings.amqp_uri, "ztc.jobs", "intake.record_submission", b"\xff not a job", content_type="application/json"
    )
    operator = system.tokens["operator"]
    letter = wait_for(
        lambda: next(
            (
                d
                for d in call(system.base, operator, "GET", "/api/ops/dead-letters").json()
                if d["original_routing_key"] == "intake.record_submission"
            ),
            None,
        ),
        timeout=30,
        message="the dead letter",
    )
    try:
        log_in(driver, console, "ops.sun")
        driver.get(console + "/ops/queues")
        rows = driver.find_elements(By.CSS_SELECTOR, "#queues tbody tr")
        # Problem queues first: the dead-letter queue among them (a unit's queue no department
        # reads, filled by the other tests on this system, is one too), then the rest.
        kinds = [row.get_attribute("class") == "problem" for row in rows]
        assert rows and kinds[0] and kinds == sorted(kinds, reverse=True), kinds
        problems = [row.get_attribute("data-queue") for row, problem in zip(rows, kinds, strict=True) if problem]
        assert "ztc.dead" in problems, problems
        camera.check("ops-queues")
        driver.get(console + "/ops/incidents")
        camera.check("ops-incidents")
        driver.get(console + "/ops/dead-letters")
        camera.check("ops-dead-letters")
        driver.find_element(By.LINK_TEXT, letter["id"]).click()
        assert letter["reason"] in driver.find_element(By.ID, "reason").text
        camera.check("ops-dead-letter")
        driver.find_element(By.ID, "discard-reason").send_keys("测试用的坏消息")
        press(driver, driver.find_element(By.ID, "discard"))
        assert letter["id"] in text_of(driver, "done")
    finally:
        call(
            system.base,
            operator,
            "POST",
            "/api/ops/dead-letters/discard",
            {"ids": [letter["id"]], "reason": "test clean-up"},
        )
    left = [d["id"] for d in call(system.base, operator, "GET", "/api/ops/dead-letters").json()]
    assert letter["id"] not in left


@pytest.mark.browser
def test_a_non_operator_sees_no_operator_page_and_is_refused_on_them(console, chrome):
    from selenium.webdriver.common.by import By

    driver, camera = chrome
    log_in(driver, console, "staff.wang")
    assert not [
        a for a in driver.find_elements(By.CSS_SELECTOR, "a") if "/console/ops/" in (a.get_attribute("href") or "")
    ]
    for page in ("/ops/instances", "/ops/queues", "/ops/incidents", "/ops/dead-letters"):
        driver.get(console + page)
        assert "operator" in text_of(driver, "refusal"), page
    camera.check("ops-refused")
