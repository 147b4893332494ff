"""An operator cancels a proposal's process (``process.cancelled``): supervision stops its clocks.

Every live deadline of the proposal closes ``cancelled`` with a recorded reason, so the overdue
board, the reminders and the escalations leave it; other processes, unknown numbers and closed
deadlines are left alone; a redelivery acts once; a malformed event is refused. All on the fakes of
supervision's ports (no database). The clock starts on 2026-03-02 10:00 in Beijing."""

from __future__ import annotations

import types

import pytest

from services.supervision import cancellation, key_proposals, operations, queries, unit_facts
from services.supervision.models import DeadlineChange, Escalation, KeyProposal, Reminder
from services.supervision.service import SupervisionService
from shared import clock, contracts
from shared.errors import BusinessError, Conflict, InvalidInput, NotFound


NUMBER = "2026-0007"
STAFF = {"user": "staff.wang", "roles": ["staff"]}
HANDLER = {"user": "handler.sun", "roles": ["unit"], "unit": "transport"}
LEADER = {"user": "vice.chair.chen", "roles": ["leader"]}
from .test_ports import DAYS, china, rules, uow  # noqa: E402,F401 - the same calendar and fixtures
from tests.support import process_cancelled  # noqa: E402


def cancelled(number=NUMBER, process_id="proposal", instance_id="inst-1", **payload):
    """The engine's ``process.cancelled`` for an instance of ``process_id`` with business key ``number``."""
    return process_cancelled(
        number, "stuck on a retired diagram", "ops.liu", process_id=process_id, instance_id=instance_id, payload=payload
    )


def signed(unit="transport", number=NUMBER):
    return {
        "event_id": f"{contracts.ASSIGNMENT_SIGNED}:{number}:{unit}:{clock.now().isoformat()}",
        "name": contracts.ASSIGNMENT_SIGNED,
        "occurred_at": clock.now().isoformat(),
        "subject": number,
        "payload": {"unit": unit, "assignment_id": 1, "at": clock.now().isoformat(), "by": "handler.sun"},
    }


def open_lead_and_co(uow, rules, number=NUMBER, key_proposal=False):
    """transport answers, police is its co-unit; only transport signs (police's limit stays live)."""
    params = {"number": number, "units": ["transport", "police"], "answering_units": ["transport"]}
    if key_proposal:
        params |= {"key_proposal": True, "supervising_leader": LEADER["user"]}
    operations.open_deadlines(uow, rules, params, STAFF)
    unit_facts.hear(uow, signed("transport", number), rules)


def statuses(uow, number=NUMBER):
    return {(row.rule, row.unit): row.status for row in uow.deadlines.of_proposal(number)}


def live(uow, number=NUMBER):
    return [row for row in uow.deadlines.of_proposal(number) if row.closed_at is None]


def test_every_live_deadline_of_the_cancelled_proposal_closes_with_the_reason(uow, rules, skipping_clock):
    open_lead_and_co(uow, rules)
    skipping_clock.set(china(2026, 3, 10, 9))
    heard = cancellation.hear(uow, cancelled())

    assert live(uow) == []
    assert statuses(uow) == {
        ("sign_for_limit", "transport"): "met",  # fulfilled before: history, untouched
        ("objection_window", "transport"): "cancelled",
        ("sign_for_limit", "police"): "cancelled",
        ("objection_window", "police"): "cancelled",
        ("co_unit_input", "police"): "cancelled",
        ("reply_deadline", None): "cancelled",
    }
    assert sorted(heard["closed"]) == sorted(r.id for r in uow.deadlines.of_proposal(NUMBER) if r.status == "cancelled")
    assert heard["number"] == NUMBER and uow.locked[-1] == f"supervision:{NUMBER}"
    changes = uow.rows(DeadlineChange, kind="cancellation")
    assert len(changes) == 5
    assert {(c.by, c.new_due) for c in changes} == {("ops.liu", None)}
    assert all("inst-1" in c.reason and "stuck on a retired diagram" in c.reason for c in changes)
    reply = next(d for d in queries.deadlines(uow, rules, NUMBER, STAFF)["deadlines"] if d["rule"] == "reply_deadline")
    assert (reply["status"], reply["live"]) == ("cancelled", False)
    assert "Cancellation on 2026-03-10 by ops.liu" in reply["explanation"]
    assert "stuck on a retired diagram" in reply["explanation"]


def test_a_cancelled_proposal_leaves_the_overdue_board_and_gets_no_more_reminders_or_escalations(
    uow, rules, skipping_clock
):
    open_lead_and_co(uow, rules)
    skipping_clock.set(china(2026, 4, 10, 10))  # the reply (04-01) and police's limit are overdue
    operations.check(uow, rules, {"number": NUMBER}, None)
    reminders, escalations = len(uow.rows(Reminder)), len(uow.rows(Escalation))
    assert escalations > 0 and queries.overdue(uow, STAFF)["total"] > 0

    cancellation.hear(uow, cancelled())

    board = queries.overdue(uow, STAFF)
    assert (board["total"], board["units"]) == (0, [])
    assert queries.overdue_per_unit(uow, STAFF) == (0, {})
    with pytest.raises(BusinessError) as refused:  # a check still in flight finds nothing live
        operations.check(uow, rules, {"number": NUMBER}, None)
    assert refused.value.code == "no_reply_deadline"
    assert (len(uow.rows(Reminder)), len(uow.rows(Escalation))) == (reminders, escalations)  # history kept


def test_a_cancelled_proposal_has_no_reply_deadline_to_extend_pause_or_resume(uow, rules, skipping_clock):
    open_lead_and_co(uow, rules)
    cancellation.hear(uow, cancelled())
    assert operations.reply_due(uow, NUMBER, HANDLER) is None  # the unit's extension form finds none
    with pytest.raises(BusinessError):
        operations.extend(uow, rules, {"number": NUMBER, "until": "2026-04-20", "reason": "survey"}, STAFF)
    with pytest.raises(NotFound):
        operations.pause(uow, rules, {"number": NUMBER, "reason": "waiting"}, STAFF)


def test_heard_twice_it_acts_once(uow, rules, skipping_clock):
    open_lead_and_co(uow, rules)
    event = cancelled()
    first = cancellation.hear(uow, event)
    skipping_clock.advance(hours=1)
    again = cancellation.hear(uow, event)
    assert first["closed"] and again["closed"] == []
    assert len(uow.rows(DeadlineChange, kind="cancellation")) == len(first["closed"])
    assert {row.closed_at for row in uow.deadlines.of_proposal(NUMBER) if row.status == "cancelled"} == {
        china(2026, 3, 2, 10)
    }


def test_a_deadline_opened_after_the_cancellation_is_not_closed_by_it(uow, rules, skipping_clock):
    open_lead_and_co(uow, rules)
    event = cancelled()
    cancellation.hear(uow, event)
    skipping_clock.set(china(2026, 3, 5, 10))  # a new instance of the proposal assigns it again
    operations.open_deadlines(uow, rules, {"number": NUMBER, "units": ["transport"]}, STAFF)
    fresh = live(uow)
    assert fresh
    assert cancellation.hear(uow, event)["closed"] == []  # the old event, redelivered
    assert live(uow) == fresh and {row.status for row in fresh} == {"open"}


def test_the_clocks_of_a_proposal_handled_again_after_a_cancellation_ignore_the_cancelled_ones(
    uow, rules, skipping_clock
):
    open_lead_and_co(uow, rules)  # police never signed: its cancelled limit must not count below
    cancellation.hear(uow, cancelled())
    skipping_clock.set(china(2026, 3, 5, 10))
    operations.open_deadlines(uow, rules, {"number": NUMBER, "units": ["transport"]}, STAFF)
    unit_facts.hear(uow, signed("transport"), rules)
    skipping_clock.set(china(2026, 3, 20, 10))
    closed = operations.close(uow, rules, {"number": NUMBER}, None)
    assert (closed["replied_on_time"], closed["signed_on_time"]) == (True, True)
    assert closed["co_units"] == {}


@pytest.mark.parametrize(
    "process_id, number",
    [
        ("opinion", NUMBER),  # an opinion item's process: supervision keeps no deadlines for it
        ("micro_consultation", NUMBER),  # a case's process
        ("smoke", NUMBER),
        ("proposal", None),  # no business key
        ("proposal", "2026-0999"),  # a proposal supervision keeps no deadlines for
    ],
)
def test_other_processes_unknown_numbers_and_instances_without_a_key_change_nothing(uow, rules, process_id, number):
    open_lead_and_co(uow, rules)
    before = statuses(uow)
    heard = cancellation.hear(uow, cancelled(number=number, process_id=process_id))
    assert heard["closed"] == []
    assert statuses(uow) == before and uow.rows(DeadlineChange, kind="cancellation") == []
    assert len(live(uow)) == 5


def test_a_proposal_whose_deadlines_are_all_closed_changes_nothing(uow, rules, skipping_clock):
    open_lead_and_co(uow, rules)
    skipping_clock.set(china(2026, 3, 20, 10))
    operations.close(uow, rules, {"number": NUMBER}, None)  # the reply accepted
    before = statuses(uow)
    assert cancellation.hear(uow, cancelled())["closed"] == []
    assert statuses(uow) == before and uow.rows(DeadlineChange, kind="cancellation") == []


@pytest.mark.parametrize(
    "spoil",
    [
        lambda body: body["payload"].pop("instance_id"),
        lambda body: body["payload"].pop("reason"),
        lambda body: body["payload"].update(by=""),
        lambda body: body["payload"].update(business_key=7),
        lambda body: body.pop("occurred_at"),
    ],
    ids=["no instance", "no reason", "empty by", "key not a string", "no occurred_at"],
)
def test_a_malformed_cancellation_is_refused_and_changes_nothing(uow, rules, spoil):
    open_lead_and_co(uow, rules)
    body = cancelled()
    spoil(body)
    with pytest.raises(InvalidInput):
        cancellation.hear(uow, body)
    assert len(live(uow)) == 5 and uow.rows(DeadlineChange, kind="cancellation") == []


def test_the_key_proposal_and_its_leaders_log_are_kept(uow, rules):
    from services.gateway import schemas
    from tests.support import conforms

    open_lead_and_co(uow, rules, key_proposal=True)
    entry = key_proposals.log_key_supervision(uow, NUMBER, "visit", "visited the bureau", LEADER)
    conforms(schemas.SupervisionLogEntry(), entry)  # as the OpenAPI document says
    cancellation.hear(uow, cancelled())
    [row] = uow.rows(KeyProposal, number=NUMBER)
    assert row.supervising_leader == LEADER["user"]
    log = key_proposals.key_supervision_log(uow, NUMBER, STAFF)
    conforms(schemas.SupervisionLog(), log)
    reason = cancelled()["payload"]["reason"]
    # kept, with a last entry saying the handling was cancelled: who and why
    assert [(e["kind"], e["text"]) for e in log["entries"]] == [("visit", "visited the bureau"), ("cancelled", reason)]
    assert log["cancelled"] == {"by": "ops.liu", "at": log["entries"][-1]["at"], "reason": reason}
    # and it takes no more entries: the leader is told why, in words and in details
    with pytest.raises(Conflict) as refused:
        key_proposals.log_key_supervision(uow, NUMBER, "visit", "again", LEADER)
    assert "was cancelled" in refused.value.message and "ops.liu" in refused.value.message
    assert refused.value.details["cancelled"] == {
        "reason": "process_cancelled",
        "by": "ops.liu",
        "at": log["entries"][-1]["at"],
        "note": reason,
    }
    # The supervising leader is told, with who cancelled it and why (the same id if heard again).
    [told] = [m for m in uow.sent if m.get("name") == "notify.key_proposal_cancelled"]
    assert told["payload"]["recipients"] == [LEADER["user"]] and told["subject"] == NUMBER
    assert "ops.liu" in told["payload"]["text"] and cancelled()["payload"]["reason"] in told["payload"]["text"]
    cancellation.hear(uow, cancelled())  # heard again: one entry still
    assert [e["kind"] for e in key_proposals.key_supervision_log(uow, NUMBER, STAFF)["entries"]] == [
        "visit",
        "cancelled",
    ]


def test_a_proposal_that_is_not_a_key_one_tells_no_leader(uow, rules):
    open_lead_and_co(uow, rules)
    cancellation.hear(uow, cancelled())
    assert [m for m in uow.sent if m.get("name") == "notify.key_proposal_cancelled"] == []


class _Db:
    def __init__(self) -> None:
        self.commits = 0
        self.noted: list[dict] = []  # the cancellations remembered for the jobs still queued

    def note_cancelled(self, body) -> None:
        self.noted.append(body)

    def commit(self) -> None:
        self.commits += 1


def _service(uow, rules):
    return types.SimpleNamespace(uow=uow, rules=rules, db=_Db())


def test_supervision_acts_on_every_event_its_queue_is_bound_to():
    assert set(unit_facts.HEARD) == set(contracts.subscriptions.SUPERVISION_HEARS)


def test_a_cancellation_heard_through_unit_facts_closes_the_clocks(uow, rules):
    open_lead_and_co(uow, rules)
    heard = unit_facts.hear(uow, cancelled(), rules)
    assert (heard["number"], len(heard["closed"])) == (NUMBER, 5) and live(uow) == []


def test_the_events_listener_closes_the_clocks_on_a_cancellation_and_still_hears_units(uow, rules):
    open_lead_and_co(uow, rules)
    service = _service(uow, rules)
    SupervisionService.on_unit_acted(service, signed("police"))  # a unit's fact: unit_facts
    assert statuses(uow)[("sign_for_limit", "police")] == "met"
    SupervisionService.on_unit_acted(service, cancelled())
    assert live(uow) == [] and service.db.commits == 2


def test_the_events_listener_refuses_a_malformed_cancellation_without_committing(uow, rules):
    # Refused as a malformed unit fact is: the listener's InvalidInput dead-letters the message.
    open_lead_and_co(uow, rules)
    service = _service(uow, rules)
    body = cancelled()
    del body["payload"]["process_id"]
    with pytest.raises(InvalidInput):
        SupervisionService.on_unit_acted(service, body)
    assert service.db.commits == 0 and len(live(uow)) == 5
