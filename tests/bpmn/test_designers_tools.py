"""The designers' tools on the product's diagrams: complete drawings without overlaps, scenario
coverage of every element and flow, a scenario failing when a gateway loses its default flow, the
scenario runner's reports, `ztc test` on a fresh clone, and element templates for every operation."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from lxml import etree

from shared.config import ROOT
from shared.contracts import jobs as job_contracts
from shared.workflow import coverage, drawing, scenarios
from shared.workflow.parser import parse
from shared.workflow.templates import element_templates
from tests.bpmn.scenario_files import PRODUCT_DIAGRAMS, suite

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}


# -- drawings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PRODUCT_DIAGRAMS)
def test_every_product_diagram_is_drawn_completely_without_overlapping_shapes(name):
    assert drawing.problems((ROOT / "bpmn" / f"{name}.bpmn").read_bytes()) == []


def test_the_drawing_check_finds_a_missing_shape_and_an_overlap():
    text = (ROOT / "bpmn" / "smoke.bpmn").read_text()
    moved = text.replace(
        'bpmnElement="escalate">\n        <dc:Bounds x="1010" y="330"',
        'bpmnElement="escalate">\n        <dc:Bounds x="1030" y="220"',
    )
    assert moved != text
    found = [str(p) for p in drawing.problems(moved.encode())]
    assert found == [
        "element 'set_outcome_answered' \"Outcome: answered\": its shape overlaps that of "
        "'escalate' \"Escalate the overdue reply\""
    ]
    missing = re.sub(r'<bpmndi:BPMNShape id="review_di".*?</bpmndi:BPMNShape>', "", text, flags=re.S)
    assert [str(p) for p in drawing.problems(missing.encode())] == [
        "element 'review' \"Review the submission\": userTask has no shape in the diagram"
    ]


# -- coverage ----------------------------------------------------------------------------------------


def _coverage(name):
    loaded = suite(name)
    cov = coverage.for_diagram(loaded.name, loaded.diagram_path.read_bytes(), loaded.definition.process_id)
    for result in scenarios.run_suite(loaded):
        assert result.passed, f"{result.scenario}: {result.message}"
        cov.add(result.reached, result.flows)
    return loaded, cov


@pytest.mark.parametrize("name", PRODUCT_DIAGRAMS)
def test_the_scenarios_cover_every_element_and_flow_of_every_product_diagram(name):
    _, cov = _coverage(name)
    assert (cov.missed_elements, cov.missed_flows) == ([], []), "\n".join(cov.lines())


def _default_flows(content: bytes):
    root = etree.fromstring(content)
    return [(g.get("id"), g.get("default")) for g in root.iterfind(".//bpmn:process//*[@default]", NS)]


def _without_flow(content: bytes, gateway: str, flow: str) -> bytes:
    """The diagram after a designer deleted a gateway's default flow in the modeler."""
    root = etree.fromstring(content)
    for g in root.iterfind(f".//*[@id='{gateway}']"):
        del g.attrib["default"]
    for element in list(root.iter()):
        if (
            element.get("id") == flow
            or element.get("bpmnElement") == flow
            or (
                isinstance(element.tag, str)
                and element.tag.endswith(("incoming", "outgoing"))
                and (element.text or "").strip() == flow
            )
        ):
            element.getparent().remove(element)
    return etree.tostring(root)


@pytest.mark.parametrize("name", PRODUCT_DIAGRAMS)
def test_a_gateway_that_loses_its_default_flow_fails_a_scenario(name):
    path = ROOT / "bpmn" / f"{name}.bpmn"
    content = path.read_bytes()
    defaults = _default_flows(content)
    if name != "smoke":
        assert len(defaults) >= 2
    for gateway, flow in defaults:
        broken = {path.name: _without_flow(content, gateway, flow)}
        try:
            loaded = scenarios.load(ROOT / "bpmn" / f"{name}{scenarios.SUFFIX}", files=broken)
        except scenarios.ScenarioFileError:
            continue  # refused at deploy: caught too
        failed = next((r for s in loaded.scenarios if not (r := scenarios.run(loaded, s)).passed), None)
        assert failed is not None, f"no scenario of {name} notices that '{gateway}' lost its default flow '{flow}'"


def test_coverage_is_drawn_on_the_diagram_as_bpmn_and_svg():
    loaded, cov = _coverage("smoke")
    cov.reached.discard("escalate")
    cov.taken.discard("f_escalate_outcome")
    annotated = coverage.annotated_bpmn(loaded.diagram_path.read_bytes(), cov)
    assert parse({"smoke.bpmn": annotated})  # still a diagram that deploys
    root = etree.fromstring(annotated)
    bioc = "{http://bpmn.io/schema/bpmn/biocolor/1.0}stroke"
    strokes = {e.get("bpmnElement"): e.get(bioc) for e in root.iter() if e.get(bioc)}
    assert strokes["escalate"] == coverage.RED and strokes["f_escalate_outcome"] == coverage.RED
    assert strokes["review"] == coverage.GREEN and strokes["f_record_end"] == coverage.GREEN
    picture = coverage.svg(loaded.diagram_path.read_bytes(), cov)
    etree.fromstring(picture.encode())  # well-formed SVG
    assert ">Escalate the<" in picture and coverage.RED in picture and coverage.GREEN in picture


# -- the runner says what went wrong -----------------------------------------------------------------


def _one(steps, then=None, given=None):
    loaded = suite("smoke")
    scenario = {
        "name": "probe",
        "when": steps,
        **({"then": then} if then else {}),
        **({"given": given} if given else {}),
    }
    return scenarios.run(loaded, scenario)


def test_the_runner_names_the_step_and_what_it_found():
    wrong_job = _one([{"job": "assignment.assign_unit"}])
    assert not wrong_job.passed and wrong_job.step == 1
    assert "no job 'assignment.assign_unit' is waiting; waiting for ['intake.record_submission']" in wrong_job.message
    wrong_params = _one([{"job": "intake.record_submission", "params": {"title": "Other"}}])
    assert "was sent with title='Repair the bus shelter on Renmin Road' (expected 'Other')" in wrong_params.message
    wrong_wait = _one([{"job": "intake.record_submission", "result": {"id": 1}}], then={"waits_at": ["assign_unit"]})
    assert wrong_wait.message.startswith("then: waits at ['review'], not at ['assign_unit']")
    bad_form = _one(
        [{"job": "intake.record_submission", "result": {"id": 1}}, {"task": "review", "data": {"approved": "perhaps"}}]
    )
    assert bad_form.step == 2 and "the form refused the data" in bad_form.message
    unknown = _one([{"jump": "review"}])
    assert "a step names one of task, job, error, message, wait, use, then" in unknown.message
    early = _one([{"wait": "P1D"}], given={"fails": {"element": "record_submission"}})
    assert "expected to fail at 'record_submission', but it did not" in early.message


def test_now_in_a_scenario_is_the_scenario_clock():
    assert scenarios.render(
        {"due": "${now + P3D}", "at": ["${now}", "x ${now - PT1H} y"]}, scenarios.DEFAULT_START
    ) == {"due": "2026-03-05T09:00:00+00:00", "at": ["2026-03-02T09:00:00+00:00", "x 2026-03-02T08:00:00+00:00 y"]}


# -- ztc test on a fresh clone ------------------------------------------------------------------------


def _ztc(args, cwd, env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZTC_")}
    env.update(env_extra, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "services.ztc.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_ztc_test_runs_every_product_diagram_on_a_fresh_clone(tmp_path):
    var = tmp_path / "var"  # as on a fresh clone: no var/, no database, nothing migrated
    done = _ztc(["test", str(ROOT / "bpmn")], tmp_path, {"ZTC_VAR_DIR": str(var)})
    assert done.returncode == 0, done.stdout + done.stderr
    total = sum(len(suite(n).scenarios) for n in PRODUCT_DIAGRAMS)
    assert done.stdout.strip().splitlines()[-1] == f"{total} passed, 0 failed"
    for name in PRODUCT_DIAGRAMS:
        assert f"{name}.bpmn: elements" in done.stdout
        assert (var / "coverage" / f"{name}.coverage.bpmn").exists()
        assert (var / "coverage" / f"{name}.coverage.svg").exists()
    assert not (var / "engine.db").exists()
    as_json = json.loads(
        _ztc(
            ["test", "--json", "--no-report", str(ROOT / "bpmn" / "smoke.bpmn")], tmp_path, {"ZTC_VAR_DIR": str(var)}
        ).stdout
    )
    assert as_json[0]["coverage"]["elements"]["percent"] == 100.0


def smoke_with_scenarios(folder, scenarios_yaml: str):
    """A copy of smoke.bpmn in ``folder`` with a scenario file beside it: the start data, then
    ``scenarios_yaml`` (the list under ``scenarios:``). Returns the scenario file's path."""
    shutil.copy(ROOT / "bpmn" / "smoke.bpmn", folder / "smoke.bpmn")
    path = folder / "smoke.scenarios.yaml"
    path.write_text(
        "data: {title: T, unit: transport, reply_within: P30D}\nscenarios:\n" + scenarios_yaml, encoding="utf-8"
    )
    return path


def test_ztc_test_fails_on_a_failing_scenario_and_reports_missing_coverage(tmp_path):
    smoke_with_scenarios(
        tmp_path,
        "  - name: rejected\n"
        "    when:\n"
        "      - {job: intake.record_submission, result: {id: 1}}\n"
        "      - {task: review, data: {approved: false}}\n"
        "    then: {waits_at: [record_outcome]}\n"
        "  - name: wrongly expected to end\n"
        "    then: {completed: true}\n",
    )
    done = _ztc(
        ["test", "--no-report", "--min-coverage", "90", str(tmp_path / "smoke.bpmn")],
        tmp_path,
        {"ZTC_VAR_DIR": str(tmp_path / "var")},
    )
    assert done.returncode == 1
    assert "PASS rejected" in done.stdout and "FAIL wrongly expected to end" in done.stdout
    assert "then: the instance has not completed: it waits at ['record_submission']" in done.stdout
    assert "not covered: element 'escalate' \"Escalate the overdue reply\" (serviceTask)" in done.stdout
    assert "coverage of smoke.bpmn is below 90%" in done.stdout
    assert done.stdout.strip().splitlines()[-2] == "1 passed, 1 failed"


@pytest.mark.parametrize(
    "step, passes, says",
    [
        ("{task: review, data: {}, refused: {approved: required}}", True, ""),  # the form refuses: expected
        ("{task: review, data: {}, refused: {approved: ''}}", True, ""),  # any refusal of the field
        ("{task: review, data: {}, refused: {title: ''}}", False, "the form refused {'approved'"),
        ("{task: review, data: {}, refused: {approved: not a boolean}}", False, "without 'not a boolean'"),
        ("{task: review, data: {approved: true}, refused: {approved: ''}}", False, "expected to refuse ['approved']"),
        ("{task: review, data: {}}", False, "the form refused the data"),  # not expected: the scenario fails
    ],
)
def test_a_scenario_can_expect_a_form_to_refuse_a_tasks_data(tmp_path, step, passes, says):
    path = smoke_with_scenarios(
        tmp_path,
        "  - name: the reviewer must say yes or no\n"
        "    when:\n"
        "      - {job: intake.record_submission, result: {id: 1}}\n"
        f"      - {step}\n"
        "    then: {waits_at: [review]}\n",  # refused: the task is still open
    )
    [result] = scenarios.run_suite(scenarios.load(path))
    assert result.passed is passes, result.message
    assert says in (result.message or "")


# -- element templates ---------------------------------------------------------------------------------


def test_a_template_is_generated_for_every_operation_with_its_parameters():
    templates = {t["name"]: t for t in element_templates()}
    assert set(templates) == set(job_contracts.OPERATIONS)
    for name, op in job_contracts.OPERATIONS.items():
        t = templates[name]
        assert t["$schema"].endswith("zeebe-element-templates-json-schema/resources/schema.json")
        assert t["elementType"] == {"value": "bpmn:ServiceTask"}
        props = t["properties"]
        assert props[0] == {
            "type": "Hidden",
            "value": name,
            "binding": {"type": "zeebe:taskDefinition", "property": "type"},
        }
        inputs = {p["binding"]["name"]: p for p in props if p["binding"]["type"] == "zeebe:input"}
        assert set(inputs) == set(op.parameters())
        for param, required in op.parameters().items():
            assert inputs[param].get("constraints") == ({"notEmpty": True} if required else None)
        assert props[-1]["binding"] == {"type": "zeebe:taskHeader", "key": "resultVariable"}


def test_a_service_task_written_by_camunda_modeler_with_a_template_deploys_and_runs():
    text = (ROOT / "bpmn" / "smoke.bpmn").read_text()
    text = text.replace(
        "xmlns:spiffworkflow=", 'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:spiffworkflow='
    )
    spiff = re.search(
        r'<spiffworkflow:serviceTaskOperator id="assignment.assign_unit".*?</spiffworkflow:serviceTaskOperator>',
        text,
        re.S,
    ).group(0)
    # What the modeler writes when the designer applies the template and fills in its fields.
    template = next(t for t in element_templates() if t["name"] == "assignment.assign_unit")
    values = {"submission_id": "submission['id']", "unit": "unit", "resultVariable": "assignment"}
    inputs = "".join(
        f'<zeebe:input source="{values[p["binding"]["name"]]}" target="{p["binding"]["name"]}"/>'
        for p in template["properties"]
        if p["binding"]["type"] == "zeebe:input" and p["binding"]["name"] in values
    )
    zeebe = (
        f'<zeebe:taskDefinition type="{template["properties"][0]["value"]}"/>'
        f"<zeebe:ioMapping>{inputs}</zeebe:ioMapping>"
        '<zeebe:taskHeaders><zeebe:header key="resultVariable" value="assignment"/></zeebe:taskHeaders>'
    )
    files = {"smoke.bpmn": text.replace(spiff, zeebe).encode()}
    loaded = scenarios.load(ROOT / "bpmn" / "smoke.scenarios.yaml", files=files)
    results = scenarios.run_suite(loaded)
    assert all(r.passed for r in results), [r.message for r in results if not r.passed]
    # A typo in an input the designer typed is caught at deploy, at the task, as for any diagram.
    with pytest.raises(scenarios.ScenarioFileError) as refused:
        scenarios.load(
            ROOT / "bpmn" / "smoke.scenarios.yaml",
            files={"smoke.bpmn": files["smoke.bpmn"].replace(b'target="unit"', b'target="unti"')},
        )
    assert "element 'assign_unit'" in str(refused.value) and "unti" in str(refused.value)


# -- migration on the runtime: a boundary event added to the task an instance waits at ------------------

REVIEW_DEADLINE = """    <bpmn:boundaryEvent id="review_overdue" name="Not reviewed in a week" attachedToRef="review">
      <bpmn:outgoing>f_review_overdue</bpmn:outgoing>
      <bpmn:timerEventDefinition id="TimerDef_review_overdue"><bpmn:timeDuration>'P7D'</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f_review_overdue" sourceRef="review_overdue" targetRef="set_outcome_rejected"/>
  </bpmn:process>"""


def test_a_migrated_instance_waiting_at_a_task_gets_the_boundary_timer_b_attached_to_it(skipping_clock):
    from shared.workflow import migration, serializer
    from shared.workflow.testing import Instance

    text = (ROOT / "bpmn" / "smoke.bpmn").read_text()
    [a] = parse({"smoke.bpmn": text})
    [b] = parse({"smoke.bpmn": text.replace("  </bpmn:process>", REVIEW_DEADLINE)})
    inst = Instance(skipping_clock, a, {"title": "T", "unit": "transport", "reply_within": "P30D"})
    inst.job("intake.record_submission", {"id": 5})
    assert inst.wait_state().waiting_tasks == ["review"]
    spec, subs = serializer.specs_from_dict(b.spec)
    plan = migration.migrate(inst.workflow, spec, subs)
    assert plan.ok and plan.waiting[0]["reset"] is True
    runtime = inst.runtime
    moved = runtime.loads(runtime.dumps(inst.workflow), b.spec, version_key="b")
    wait = runtime.wait_state(moved)
    assert set(wait.waiting_tasks) == {"review", "review_overdue"} and [u.task_name for u in wait.user_tasks] == [
        "review"
    ]
    skipping_clock.advance(days=8)
    runtime.fire_timers(moved)
    wait = runtime.wait_state(moved)
    [job] = wait.new_jobs
    assert job.operation == "evaluation.record_outcome" and job.params["outcome"] == "rejected"
