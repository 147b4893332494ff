"""An operator cancels a proposal's process (``process.cancelled``): its open rating round closes
``cancelled``, an appeal window still open or an appeal not decided ends, later ratings and appeals
are refused naming the cancellation; nothing else changes and no points are booked or revoked. On
evaluation's fakes (no database)."""

from __future__ import annotations

import types
import pytest

from services.evaluation import appeals, assessment, cancellation, operations, ratings
from services.evaluation.points import directory
from services.evaluation.service import EvaluationService
from shared import clock
from shared.contracts.messages import RATINGS_COMPLETE
from shared.errors import Conflict, InvalidInput

from .fakes import FakeEvaluationUnitOfWork, FakePointsRules, FakeRules, points_book
from tests.support import process_cancelled

NUMBER = "2026-0001"
LI = {"user": "member.li", "roles": ["member"], "unit": None}
ZHAO = {"user": "member.zhao", "roles": ["member"], "unit": None}
STAFF = {"user": "staff.wang", "roles": ["staff"], "unit": None}
POINTS = FakePointsRules([points_book()])  # a term covering 2026


@pytest.fixture
def uow(skipping_clock):
    return FakeEvaluationUnitOfWork()


@pytest.fixture
def rules():
    return FakeRules(rating_days=10, appeal_days=15)


def cancelled(number=NUMBER, process_id="proposal", instance_id="inst-1", members=(), **payload):
    return process_cancelled(
        number,
        "stuck on a retired diagram",
        "ops.liu",
        process_id=process_id,
        instance_id=instance_id,
        members=members,
        payload=payload,
    )


def open_round(uow, rules, *who):
    return ratings.open_round(uow, rules, {"number": NUMBER, "proposers": [p["user"] for p in who]})


def rate(uow, rules, who, level="satisfied"):
    return ratings.rate(uow, rules, NUMBER, level, level, None, who)


def appealable(uow, rules):
    """Round 2 (a re-handled reply) rated 不满意 by member.li: its appeal window is open."""
    for _ in range(2):
        open_round(uow, rules, LI)
        rate(uow, rules, LI, "unsatisfied")
    second = uow.ratings.rounds[-1]
    assert second.outcome == "appealable"
    return second


def sent_names(uow):
    return [item.get("name") for item in uow.sent]


def test_an_open_round_closes_cancelled_and_a_later_rating_is_refused_naming_why(uow, rules, skipping_clock):
    open_round(uow, rules, LI, ZHAO)
    rate(uow, rules, LI)
    sent = list(uow.sent)
    skipping_clock.advance(days=2)
    heard = cancellation.hear(uow, cancelled())

    [row] = uow.ratings.rounds
    assert (heard["closed"], heard["round"]) == ("round", 1)
    assert (row.outcome, row.closed_at) == ("cancelled", skipping_clock.now())
    assert row.cancelled["by"] == "ops.liu" and row.cancelled["reason"] == "stuck on a retired diagram"
    assert row.cancelled["instance_id"] == "inst-1"
    assert uow.sent == sent  # no ratings_complete to the engine, no handling.rated, no notice
    assert [r.rater for r in uow.ratings.ratings] == ["member.li"]  # no not_given for the silent
    with pytest.raises(Conflict) as refused:
        rate(uow, rules, ZHAO)
    assert "cancelled" in refused.value.message and "stuck on a retired diagram" in refused.value.message
    assert skipping_clock.now().strftime("on %Y-%m-%d %H:%M UTC") in refused.value.message  # read as people read it
    # the details say it as intake's and assignment's refusals do (contracts.cancelled_details)
    assert refused.value.details == {
        "round": 1,
        "cancelled": {
            "reason": "process_cancelled",
            "by": "ops.liu",
            "at": row.cancelled["at"],
            "note": "stuck on a retired diagram",
        },
    }
    assert len(uow.ratings.ratings) == 1
    shown = ratings.ratings_of(uow, NUMBER, STAFF)["rounds"][0]
    assert (shown["outcome"], shown["closed_at"]) == ("cancelled", skipping_clock.now().isoformat())


def test_the_window_closing_after_the_cancellation_sends_nothing(uow, rules, skipping_clock):
    open_round(uow, rules, LI)
    cancellation.hear(uow, cancelled())
    closed = ratings.close_window(uow, rules, {"number": NUMBER, "round": 1}, None)
    assert (closed["closed"], closed["outcome"]) == (False, "cancelled")
    assert uow.messages(RATINGS_COMPLETE) == []


def test_a_cancelled_round_is_not_final_in_the_unit_assessment(uow, rules):
    facts = {
        "signed_on_time": True,
        "face_to_face": True,
        "replied_on_time": True,
        "extensions": 0,
        "rehandling_rounds": 0,
        "category": "A",
        "satisfaction": ["satisfied"],
    }
    operations.score_handling(uow, rules, {"number": NUMBER, "unit": "transport", "facts": facts}, None)
    open_round(uow, rules, LI, ZHAO)
    rate(uow, rules, LI)
    cancellation.hear(uow, cancelled())
    [unit] = assessment.ranking(uow, rules, 2026, STAFF)["units"]
    assert unit["satisfaction"]["ratings"] == 0


def test_an_open_appeal_window_ends_and_a_later_appeal_is_refused_naming_why(uow, rules, skipping_clock):
    second = appealable(uow, rules)
    due = second.appeal_due
    skipping_clock.advance(days=3)
    heard = cancellation.hear(uow, cancelled())

    assert heard["closed"] == "appeal_window"
    assert (second.outcome, second.appeal_due) == ("appealable", skipping_clock.now())  # its ratings stand
    assert second.cancelled["appeal_due"] == due.isoformat()  # the window it had
    with pytest.raises(Conflict) as refused:
        appeals.appeal(uow, NUMBER, "still unsafe", LI)
    assert "cancelled" in refused.value.message and "ops.liu" in refused.value.message
    assert refused.value.details["cancelled"]["reason"] == "process_cancelled"
    assert refused.value.details["cancelled"]["by"] == "ops.liu"
    assert uow.ratings.appeals == []


def test_an_appeal_not_decided_is_decided_cancelled_and_the_committees_job_leaves_it(uow, rules, skipping_clock):
    appealable(uow, rules)
    appeals.appeal(uow, NUMBER, "still unsafe", LI)
    skipping_clock.advance(days=1)
    assert cancellation.hear(uow, cancelled())["closed"] == "appeal"

    [appeal] = uow.ratings.appeals
    assert (appeal.decision, appeal.decision_reason, appeal.decided_by) == (
        "cancelled",
        "stuck on a retired diagram",
        "ops.liu",
    )
    assert appeal.decided_at == skipping_clock.now()
    decided = appeals.decide(uow, {"number": NUMBER, "round": 2, "decision": "upheld", "reason": "late"}, None)
    assert decided["decision"] == "cancelled" and uow.events("handling.appeal_decided") == []
    assert uow.ratings.rounds[-1].outcome == "appealable"


def test_heard_twice_it_acts_once(uow, rules, skipping_clock):
    second = appealable(uow, rules)
    event = cancelled()
    cancellation.hear(uow, event)
    ended, record = second.appeal_due, dict(second.cancelled)
    skipping_clock.advance(hours=2)
    again = cancellation.hear(uow, event)
    assert again["closed"] is None
    assert (second.appeal_due, second.cancelled) == (ended, record)


def test_a_round_opened_after_the_cancellation_is_not_closed_by_it(uow, rules, skipping_clock):
    event = cancelled()  # the cancellation happened now; a new instance opens a round later
    skipping_clock.advance(days=1)
    open_round(uow, rules, LI)
    assert cancellation.hear(uow, event)["closed"] is None
    [row] = uow.ratings.rounds
    assert (row.closed_at, row.cancelled) == (None, None)
    rate(uow, rules, LI)  # still rated


@pytest.mark.parametrize(
    "process_id, number",
    [
        ("opinion", NUMBER),  # an opinion item's process: no rating rounds
        ("micro_consultation", NUMBER),
        ("proposal", None),  # no business key
        ("proposal", "2026-0999"),  # a proposal with no rating round
    ],
)
def test_other_processes_unknown_numbers_and_instances_without_a_key_change_nothing(uow, rules, process_id, number):
    open_round(uow, rules, LI)
    heard = cancellation.hear(uow, cancelled(number=number, process_id=process_id))
    [row] = uow.ratings.rounds
    assert heard["closed"] is None and (row.closed_at, row.outcome, row.cancelled) == (None, None, None)
    assert rate(uow, rules, LI)["round_closed"] is True


@pytest.mark.parametrize("outcome", ["accepted", "rehandle"])
def test_a_round_already_closed_changes_nothing(uow, rules, outcome):
    open_round(uow, rules, LI)
    rate(uow, rules, LI, "satisfied" if outcome == "accepted" else "unsatisfied")
    [row] = uow.ratings.rounds
    closed_at = row.closed_at
    assert cancellation.hear(uow, cancelled())["closed"] is None
    assert (row.outcome, row.closed_at, row.cancelled) == (outcome, closed_at, None)


def test_an_appeal_window_already_ended_or_an_appeal_decided_changes_nothing(uow, rules, skipping_clock):
    second = appealable(uow, rules)
    appeals.appeal(uow, NUMBER, "still unsafe", LI)
    appeals.decide(uow, {"number": NUMBER, "round": 2, "decision": "upheld", "reason": "done"}, None)
    assert cancellation.hear(uow, cancelled())["closed"] is None
    assert (second.outcome, second.cancelled, uow.ratings.appeals[0].decision) == ("upheld", None, "upheld")


def test_an_appeal_window_that_ended_by_itself_changes_nothing(uow, rules, skipping_clock):
    second = appealable(uow, rules)
    due = second.appeal_due
    skipping_clock.advance(days=16)
    assert cancellation.hear(uow, cancelled())["closed"] is None
    assert (second.appeal_due, second.cancelled) == (due, None)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda body: body["payload"].pop("process_id"),
        lambda body: body["payload"].pop("by"),
        lambda body: body["payload"].update(reason=""),
        lambda body: body["payload"].update(instance_id=None),
        lambda body: body.pop("subject"),
    ],
    ids=["no process", "no by", "empty reason", "null instance", "no subject"],
)
def test_a_malformed_cancellation_is_refused_and_changes_nothing(uow, rules, spoil):
    open_round(uow, rules, LI)
    body = cancelled()
    spoil(body)
    with pytest.raises(InvalidInput):
        cancellation.hear(uow, body)
    [row] = uow.ratings.rounds
    assert (row.closed_at, row.cancelled) == (None, None)


# -- the events listener (points) ---------------------------------------------------------------


class _Db:
    def __init__(self) -> None:
        self.commits = 0
        self.noted: list[dict] = []  # the cancellations remembered for the jobs still queued

    def note_cancelled(self, body) -> None:
        self.noted.append(body)

    def commit(self) -> None:
        self.commits += 1


def _service(uow):
    return types.SimpleNamespace(uow=uow, points_rules=POINTS, db=_Db())


def _members(uow):
    directory.ensure_members(uow, POINTS, [{"user": "member.li", "name": "李明华", "sector": "民盟"}])


def test_the_listener_closes_the_round_and_books_no_points_for_the_cancellation(uow, rules, skipping_clock):
    _members(uow)
    open_round(uow, rules, LI)
    service = _service(uow)
    filed = {
        "event_id": "proposal.filed:x",
        "name": "proposal.filed",
        "occurred_at": clock.now().isoformat(),
        "subject": NUMBER,
        "thread": None,
        "members": [{"member": "member.li", "role": "lead"}],
        "payload": {},
    }
    EvaluationService.book_points(service, filed)
    earned = [(e.member, e.points) for e in uow.points.entries]
    assert earned == [("member.li", 15)]
    heard = set(uow.points.heard_events)

    # Even naming a member and dated outside every term, the cancellation is not the ledger's.
    skipping_clock.advance(days=400)
    EvaluationService.book_points(service, cancelled(members=[{"member": "member.li", "role": "lead"}]))

    assert uow.ratings.rounds[0].outcome == "cancelled" and service.db.commits == 2
    assert [(e.member, e.points) for e in uow.points.entries] == earned  # nothing booked, nothing revoked
    assert uow.points.heard("cancelled:inst-1") is None and set(uow.points.heard_events) == heard


def test_the_listener_refuses_a_malformed_cancellation_without_committing(uow, rules):
    # As every malformed event on this queue: InvalidInput, which the listener dead-letters.
    open_round(uow, rules, LI)
    service = _service(uow)
    body = cancelled()
    body["payload"] = {"business_key": NUMBER}
    with pytest.raises(InvalidInput):
        EvaluationService.book_points(service, body)
    assert service.db.commits == 0 and uow.ratings.rounds[0].closed_at is None
    assert uow.points.heard("cancelled:inst-1") is None


def test_an_ordinary_event_dated_outside_every_term_is_still_refused(uow, skipping_clock):
    # The control for the listener test above: the ledger refuses what falls outside every term,
    # so only leaving the cancellation out of the ledger keeps it from being dead-lettered.
    skipping_clock.advance(days=400)
    service = _service(uow)
    body = cancelled()
    body["name"] = "proposal.withdrawn"
    with pytest.raises(InvalidInput):
        EvaluationService.book_points(service, body)
    assert service.db.commits == 0


# -- on the SQL adapter (SQLite) -----------------------------------------------------------------


def test_the_cancellation_is_kept_by_the_sql_adapter(tmp_path, skipping_clock):
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from services.evaluation.models import Base, RatingRound

    from .fakes import sql_ports

    engine = create_engine(f"sqlite:///{tmp_path}/evaluation.db")
    Base.metadata.create_all(engine)
    with sessionmaker(bind=engine, expire_on_commit=False)() as session:
        uow, real_rules = sql_ports(session)
        ratings.open_round(uow, real_rules, {"number": NUMBER, "proposers": ["member.li", "member.zhao"]})
        session.commit()
        assert cancellation.hear(uow, cancelled())["closed"] == "round"
        session.commit()
    with sessionmaker(bind=engine)() as session:
        row = session.query(RatingRound).one()
        assert (row.outcome, row.cancelled["by"], row.cancelled["event_id"]) == (
            "cancelled",
            "ops.liu",
            "cancelled:inst-1",
        )
        uow, real_rules = sql_ports(session)
        with pytest.raises(Conflict, match="cancelled"):
            ratings.rate(uow, real_rules, NUMBER, "satisfied", "satisfied", None, LI)
        assert cancellation.hear(uow, cancelled())["closed"] is None
    engine.dispose()
