from tests.integration.test_engine_rules import *

def test_probe(engine):
    engine.deploy(SMOKE)
    data = {k: v for k, v in DATA.items() if k != "reply_within"}
    inst = engine.start("smoke", "P-1", data, MEMBER)
    finish_job(engine, "intake.record_submission", SUBMISSION)
    engine.complete_task(review_task(engine, inst["id"])["task_id"], {"approved": True}, STAFF)
    job = take_job(engine, "assignment.assign_unit")
    print(answer(engine, job, "ok", ASSIGNMENT))
    print(engine.get_instance(inst["id"]))
    print(engine.history(inst["id"]))
    with transaction(engine.sessions) as s:
        print([(j.task_name, j.status) for j in s.scalars(select(Job))])
    print(answer(engine, job, "failed", message="x"))
    print(outbox_count(engine, "assignment.assign_unit"))
    assert 0
