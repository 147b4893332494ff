"""The designers' console pages in Debian's chromium, every service running: a designer uploads a
diagram with problems on two elements and sees each problem marked on its element and listed,
then uploads the fixed diagram, which deploys, and sees the diff against the version before; the
pages are scanned by axe-core, checked at 375 px and photographed; the diagram renders under the
console's Content-Security-Policy; the scenario coverage of a version is drawn on its diagram. A person who is not a designer sees no designer navigation and
is refused the pages and the upload."""

from __future__ import annotations

import re

import pytest
import requests

from tests.support import wait_for

from . import browser
from .conftest import call, once_on_sqlite
from .test_console_flow import PASSWORD, log_in, press, text_of

PROCESS = "designer_trial"
_once = once_on_sqlite("the console is driven in a browser once, on SQLite")

# A small process drawn with its DI: (id, tag, name, x, y, inner XML) and (id, source, target, name, inner XML).
SIZES = {"startEvent": (36, 36), "endEvent": (36, 36), "exclusiveGateway": (50, 50)}


def operation(name: str, title: str = "title") -> str:
    return (
        '<bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="%s" resultVariable="submission">'
        '<spiffworkflow:parameters><spiffworkflow:parameter id="title" type="str" value="%s"/>'
        "</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>" % (name, title)
    )


def condition(text: str) -> str:
    return f"<bpmn:conditionExpression>{text}</bpmn:conditionExpression>"


def diagram_xml(nodes, flows, default=None) -> str:
    shapes, edges, body, centre = [], [], [], {}
    for node_id, tag, name, x, y, inner in nodes:
        w, h = SIZES.get(tag, (100, 80))
        centre[node_id] = (x + w / 2, y + h / 2)
        extra = f' default="{default}"' if tag == "exclusiveGateway" and default else ""
        body.append(f'<bpmn:{tag} id="{node_id}" name="{name}"{extra}>{inner}</bpmn:{tag}>')
        shapes.append(
            f'<bpmndi:BPMNShape id="{node_id}_di" bpmnElement="{node_id}"><dc:Bounds x="{x}" y="{y}" '
            f'width="{w}" height="{h}"/></bpmndi:BPMNShape>'
        )
    for flow_id, source, target, name, inner in flows:
        label = f' name="{name}"' if name else ""
        body.append(
            f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"{label}>{inner}'
            f"</bpmn:sequenceFlow>"
        )
        (x1, y1), (x2, y2) = centre[source], centre[target]
        edges.append(
            f'<bpmndi:BPMNEdge id="{flow_id}_di" bpmnElement="{flow_id}"><di:waypoint x="{x1}" y="{y1}"/>'
            f'<di:waypoint x="{x2}" y="{y2}"/></bpmndi:BPMNEdge>'
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
  id="Definitions_{PROCESS}" targetNamespace="http://zhitongche.example/bpmn">
  <bpmn:process id="{PROCESS}" name="试用流程" isExecutable="true">
    {chr(10).join(body)}
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_{PROCESS}"><bpmndi:BPMNPlane id="Plane_{PROCESS}" bpmnElement="{PROCESS}">
    {chr(10).join(shapes + edges)}
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def _nodes(record_op, record_name="登记提交", last=("end_yes", "已通过")):
    return [
        ("start", "startEvent", "提交", 100, 222, ""),
        ("record", "serviceTask", record_name, 200, 200, operation(record_op)),
        ("decide", "exclusiveGateway", "是否通过？", 370, 215, ""),
        (last[0], "endEvent", last[1], 500, 122, ""),
        ("end_no", "endEvent", "未通过", 500, 322, ""),
    ]


def _flows(yes_condition, last="end_yes"):
    return [
        ("f_start", "start", "record", "", ""),
        ("f_record", "record", "decide", "", ""),
        ("f_yes", "decide", last, "通过", yes_condition),
        ("f_no", "decide", "end_no", "", ""),
    ]


V1 = (_nodes("intake.record_submission"), _flows(condition("approved")), "f_no")
# Two problems on two elements: an operation no contract declares, and a gateway's flow with
# neither a condition nor the default.
BROKEN = (_nodes("intake.no_such_operation"), _flows(""), None)
# Fixed: the operation declared again, the condition back (another one), the task renamed, and
# the 'yes' end replaced by another.
FIXED = (
    _nodes("intake.record_submission", "登记并编号", ("end_done", "办结")),
    _flows(condition("approved and title"), "end_done"),
    "f_no",
)

PROBLEM_RED = "rgb(164, 22, 26)"  # console.css: #a4161a
CSP_WATCH = (
    "window.__csp = [];"
    "document.addEventListener('securitypolicyviolation', e => window.__csp.push("
    "e.violatedDirective + ' ' + (e.blockedURI || e.sourceFile || '')));"
)


@pytest.fixture(scope="module")
def console(system):
    """The running system's console URL, with a designer's and a member's console accounts, and
    the process's first version deployed through the API."""
    from services.launcher import DEMO_USERS, seed_console_accounts

    from .conftest import ONE_ROLE_USERS

    seed_console_accounts(
        system.settings, {"designer": ONE_ROLE_USERS["designer"], "member": DEMO_USERS["member"]}, PASSWORD
    )
    answer = call(
        system.base,
        system.tokens["designer"],
        "POST",
        "/api/deployments",
        {"files": {f"{PROCESS}.bpmn": diagram_xml(*V1)}},
    )
    assert answer.status_code == 201, answer.text
    return system.base + "/console"


@pytest.fixture
def chrome(request):
    if browser.missing():  # failed, not skipped: leave these out with -m "not browser" instead
        pytest.fail(browser.missing())
    driver = browser.chromium()
    # Every page reports what its Content-Security-Policy blocked (an inline style bpmn-js might set).
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CSP_WATCH})
    yield driver, browser.Camera(driver, request.node.name)
    driver.quit()


def drawn(driver, container: str, timeout: float = 20):
    """The diagram in ``container`` once bpmn-js has drawn it and put the page's marks on it."""
    from selenium.webdriver.common.by import By

    wait_for(
        lambda: driver.find_element(By.ID, container).get_attribute("data-diagram-ready") in ("true", "error"),
        timeout=timeout,
        message=f"the diagram {container} drawn",
    )
    element = driver.find_element(By.ID, container)
    assert element.get_attribute("data-diagram-ready") == "true", element.text
    return element


def marked(diagram, element_id: str) -> set[str]:
    """The classes bpmn-js gave the SVG element of ``element_id`` (its markers among them)."""
    from selenium.webdriver.common.by import By

    found = diagram.find_elements(By.CSS_SELECTOR, f'g.djs-element[data-element-id="{element_id}"]')
    assert found, f"{element_id} is not drawn"
    return set(found[0].get_attribute("class").split())


def stroke(driver, diagram, element_id: str) -> str:
    """The colour the element's line is drawn in (a flow's line follows its arrowhead's defs)."""
    return driver.execute_script(
        "const g = arguments[0].querySelector(`g.djs-element[data-element-id='${arguments[1]}']`);"
        "const line = g.classList.contains('djs-connection') ? g.querySelector('.djs-visual > path')"
        " : g.querySelector('.djs-visual > :first-child');"
        "return getComputedStyle(line).stroke;",
        diagram,
        element_id,
    )


def no_csp_violation(driver, page: str) -> None:
    blocked = driver.execute_script("return window.__csp")
    assert blocked is not None, f"{page}: the CSP watch is not installed"
    assert not blocked, f"{page}: the Content-Security-Policy blocked {blocked}"


def tab_to(driver, css: str):
    """Move the focus by Tab alone to the element matching ``css`` and return it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    target = driver.find_element(By.CSS_SELECTOR, css)
    for _ in range(200):
        driver.switch_to.active_element.send_keys(Keys.TAB)
        if driver.switch_to.active_element == target:
            return target
    raise AssertionError(f"Tab never reached {css}")


@pytest.mark.browser
def test_a_designer_sees_each_problem_of_an_upload_on_its_element_then_deploys_the_fix_and_sees_the_diff(
    console, chrome, system, tmp_path
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, camera = chrome
    broken, fixed = tmp_path / f"{PROCESS}.bpmn", tmp_path / "fixed" / f"{PROCESS}.bpmn"
    broken.write_text(diagram_xml(*BROKEN), encoding="utf-8")
    fixed.parent.mkdir()
    fixed.write_text(diagram_xml(*FIXED), encoding="utf-8")

    log_in(driver, console, "designer.lin")
    driver.find_element(By.ID, "nav-designs").click()
    row = wait_for(
        lambda: driver.find_elements(By.CSS_SELECTOR, f"#process-{PROCESS} tr[data-version]"),
        timeout=10,
        message="the process's versions",
    )
    assert len(row) == 1 and "designer.lin" in row[0].text
    camera.check("versions")

    # The broken upload: refused, each problem on its element and in the list, nothing deployed.
    driver.find_element(By.ID, "deploy-link").click()
    camera.check("deploy-form")
    driver.find_element(By.ID, "files").send_keys(str(broken))
    press(driver, driver.find_element(By.ID, "deploy"))
    diagram = drawn(driver, "diagram-1")
    no_csp_violation(driver, "the refused upload")
    for element_id in ("record", "f_yes", "f_no"):
        assert "problem" in marked(diagram, element_id), element_id
        assert stroke(driver, diagram, element_id) == PROBLEM_RED, element_id  # drawn so, not only classed
    assert "problem" not in marked(diagram, "start")
    badges = [b.text for b in diagram.find_elements(By.CSS_SELECTOR, ".diagram-badge.problem")]
    assert sorted(badges) == ["1", "2", "3"]
    listed = {
        li.get_attribute("data-element-id"): li.text for li in driver.find_elements(By.CSS_SELECTOR, "#problems > li")
    }
    assert set(listed) == {"record", "f_yes", "f_no"}
    assert "intake.no_such_operation" in listed["record"] and "登记提交" in listed["record"]
    assert all("without a condition" in listed[f] for f in ("f_yes", "f_no"))
    assert "3" in text_of(driver, "refusal")
    camera.check("problems-on-diagram", doc="designer-problems")
    versions = call(system.base, system.tokens["designer"], "GET", "/api/processes").json()
    assert [v["number"] for v in versions if v["process_id"] == PROCESS] == [1]  # nothing deployed

    # The fixed upload deploys: the new version's page, its diagram drawn.
    driver.find_element(By.ID, "files").send_keys(str(fixed))
    press(driver, driver.find_element(By.ID, "deploy"))
    assert re.search(rf"/console/designs/{PROCESS}/versions/2\?deployed=deployed$", driver.current_url), (
        driver.current_url
    )
    assert text_of(driver, "version-status") == "生效中（新实例用此版）"
    drawn(driver, "diagram")
    no_csp_violation(driver, "the version")
    camera.check("version")

    # By keyboard alone: to the diff with the version before.
    tab_to(driver, "#diff-previous").send_keys(Keys.ENTER)
    wait_for(lambda: "/diff?from=1&to=2" in driver.current_url, timeout=10, message="the diff page")
    new, old = drawn(driver, "diagram-new"), drawn(driver, "diagram-old")
    no_csp_violation(driver, "the diff")
    assert (
        "added" in marked(new, "end_done") and "changed" in marked(new, "record") and "changed" in marked(new, "f_yes")
    )
    assert "removed" in marked(old, "end_yes") and "changed" in marked(old, "record")
    assert not new.find_elements(By.CSS_SELECTOR, 'g.djs-element[data-element-id="end_yes"]')
    assert "changed" not in marked(new, "start") and "added" not in marked(new, "start")
    items = {
        li.get_attribute("data-element-id"): li
        for li in driver.find_elements(By.CSS_SELECTOR, "#diff-list li[data-element-id]")
    }
    assert "diff-removed" in items["end_yes"].get_attribute("class")
    assert "diff-added" in items["end_done"].get_attribute("class")
    assert "登记提交" in items["record"].text and "登记并编号" in items["record"].text
    assert "approved and title" in items["f_yes"].text
    camera.check("diff")

    # Scenario coverage: the smoke diagram's scenario file covers every element of its active
    # version; this process has no scenario file, and the page says so.
    driver.get(f"{console}/designs/smoke/versions/active/coverage")
    covered = drawn(driver, "diagram", timeout=60)
    no_csp_violation(driver, "the coverage")
    for element_id in ("start", "review", "decide", "f_decide_assign", "end"):
        assert "covered" in marked(covered, element_id), element_id
    assert not driver.find_elements(By.CSS_SELECTOR, "#missed li[data-element-id]")
    assert "smoke.scenarios.yaml" in text_of(driver, "coverage-figures")
    assert "通过" in text_of(driver, "scenarios") and "未通过" not in text_of(driver, "scenarios")
    camera.check("coverage")
    driver.get(f"{console}/designs/{PROCESS}/versions/2/coverage")
    assert f"{PROCESS}.bpmn" in text_of(driver, "coverage-none")


def _session(console, user):
    http = requests.Session()
    page = http.get(console + "/login", timeout=10)
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    answer = http.post(
        console + "/login",
        data={"user": user, "password": PASSWORD, "csrf": token, "next": "/console"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303, answer.text
    return http, re.search(r'name="csrf" value="([^"]+)"', http.get(console, timeout=10).text).group(1)


def test_a_member_sees_no_designer_navigation_and_is_refused_the_pages_and_the_upload(console, system):
    http, csrf = _session(console, "member.li")
    assert 'id="nav-designs"' not in http.get(console, timeout=10).text
    for path in (
        "/designs",
        "/designs/deploy",
        f"/designs/{PROCESS}/versions/1",
        f"/designs/{PROCESS}/versions/1/diagram.xml",
        f"/designs/{PROCESS}/diff?from=1&to=1",
        f"/designs/{PROCESS}/versions/1/coverage",
    ):
        refused = http.get(console + path, timeout=10)
        assert refused.status_code == 403 and "this needs one of the roles" in refused.text, path
        assert 'id="nav-designs"' not in refused.text and "<bpmn:" not in refused.text
    before = call(system.base, system.tokens["designer"], "GET", "/api/processes").json()
    posted = http.post(
        console + "/designs/deploy",
        data={"csrf": csrf},
        timeout=10,
        files={"files": ("other.bpmn", diagram_xml(*FIXED).replace(PROCESS, "member_trial"))},
    )
    assert posted.status_code == 403 and "designer" in posted.text
    assert call(system.base, system.tokens["designer"], "GET", "/api/processes").json() == before
