"""A year's report counted by the database and listed a page at a time: on a database of each kind
migrated as in production, ``year_figures`` gives the figures the unit tier's fake counts row by
row, and its pages put together are the whole list, in order."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import event, select

from services.intake.models import Conversion, Proposal, Publication
from services.intake.publication import record_answer
from services.intake.reports import year_figures
from services.intake.rules import RulebookRules
from services.intake.unit_of_work import SqlIntakeUnitOfWork
from shared.errors import InvalidInput
from tests.unit.services.intake.fakes import FakeIntakeUnitOfWork

pytestmark = pytest.mark.both_databases

STAFF = {"user": "staff.zhao", "roles": ["staff"]}
AREAS = ["economy", "society", None]
AT = datetime(2026, 6, 1, tzinfo=timezone.utc)
# (year, status, decision, reason, merged into, answer: (event, category, units), published, converted)
YEAR = [
    (2026, "published", "filed", None, None, ("published", "A", ["transport"]), True, None),
    (2026, "published", "filed", None, None, ("published", "B", ["education", "transport"]), True, None),
    (2026, "closed", "filed", None, None, ("publication_declined", "A", ["transport"]), False, None),
    (2026, "assigned", "filed", None, None, None, False, None),
    (2026, "not_filed", "not_filed", "academic_debate", None, None, False, "opinion"),
    (2026, "not_filed", "not_filed", "academic_debate", None, None, False, "letter"),
    (2026, "not_filed", "not_filed", "personal_or_family", None, None, False, None),
    (2026, "merged", "merged", None, "2026-0001", None, False, None),
    (2026, "pre_review", None, None, None, None, False, None),
    (2026, "dropped", None, None, None, None, False, None),  # not counted
    (2025, "published", "filed", None, None, ("published", "C", ["health"]), True, None),  # another year
    # their processes cancelled by an operator: one after filing, one before the committee decided
    (2026, "cancelled", "filed", None, None, None, False, None),
    (2026, "cancelled", None, None, None, None, False, None),
]


def fill(uow) -> None:
    """The same year, row by row, in any unit of work."""
    for i, (year, status, decision, reason, merged, answer, published, converted) in enumerate(YEAR, start=1):
        proposal = Proposal(
            number=f"{year}-{i:04d}",
            year=year,
            sequence=i,
            kind="between_sessions",
            title=f"关于第{i}件事的建议",
            situation="情况",
            analysis="分析",
            suggestions="建议",
            initiator=f"member.{i}",
            publish_consent=True,
            publish_name=False,
            area=AREAS[i % len(AREAS)],
            status=status,
            decision=decision,
            reason_code=reason,
            merged_into=merged,
            created_at=AT,
            cosigners=[],
        )
        uow.proposals.add(proposal)
        uow.flush()
        if answer:  # as intake.publish records it: the history line and the answer on the proposal
            action, category, units = answer
            record_answer(uow, proposal, "staff", action, {"reply_category": category, "units": units})
        if published:
            uow.proposals.add_publication(
                Publication(
                    proposal_id=proposal.id,
                    number=proposal.number,
                    kind=proposal.kind,
                    title=proposal.title,
                    situation="情况",
                    analysis="分析",
                    suggestions="建议",
                    proposers=["m***"],
                    units=answer[2],
                    reply_category=answer[1],
                    reply_summary="已答复",
                    published_at=AT,
                )
            )
        if converted:
            uow.proposals.add_conversion(
                Conversion(proposal_id=proposal.id, kind=converted, reference=f"ref-{i}", created_at=AT)
            )
    uow.flush()


@pytest.fixture
def sql_uow(sessions):
    with sessions() as session:
        uow = SqlIntakeUnitOfWork(session)
        fill(uow)
        session.commit()
        yield uow


def figures(uow, audience, **query):
    return year_figures(uow, RulebookRules(), 2026, audience, STAFF, query=query)


@pytest.mark.parametrize("audience", ["members", "public"])
def test_the_database_counts_what_the_rows_add_up_to_and_the_pages_make_the_whole_list(sql_uow, audience):
    fake = FakeIntakeUnitOfWork()
    fill(fake)
    counted, expected = figures(sql_uow, audience), figures(fake, audience)
    assert counted == expected
    assert (counted["received"], counted["filed"], counted["not_filed"], counted["merged"]) == (11, 5, 3, 1)
    # waiting for a decision: the one in pre-review alone (merged is a decision, counted under merged;
    # the cancelled one never decided waits for none)
    assert (counted["undecided"], counted["cancelled"]) == (1, 2)
    assert counted["converted"] == {"opinion": 1, "letter": 1}
    assert [(r["code"], r["count"]) for r in counted["not_filed_reasons"]] == [
        ("academic_debate", 2),
        ("personal_or_family", 1),
    ]
    society = next(a for a in counted["areas"]["areas"] if a["code"] == "society")
    assert (society["proposals"], society["filed"], counted["areas"]["unclassified"]["proposals"]) == (4, 2, 3)
    assert counted["answered"] == 3 and counted["lead_units"] == [
        {"unit": "education", "count": 1},
        {"unit": "transport", "count": 2},
    ]
    listed = 2 if audience == "public" else 11
    assert counted["listed"] == listed and len(counted["proposals"]) == listed
    pages = [figures(sql_uow, audience, page=n, per_page=2) for n in range(1, 7)]
    assert [p["number"] for page in pages for p in page["proposals"]] == [p["number"] for p in counted["proposals"]]
    assert all(len(page["proposals"]) <= 2 and page["listed"] == listed for page in pages)
    assert all(
        {k: v for k, v in page.items() if k not in ("proposals", "page", "per_page")}
        == {k: v for k, v in counted.items() if k not in ("proposals", "page", "per_page")}
        for page in pages
    )
    with pytest.raises(InvalidInput):
        figures(sql_uow, audience, per_page=1001)


def test_the_bulletin_names_each_proposer_by_the_directorys_name_or_their_user_id(sql_uow):
    everyone = sorted(
        {user for p in figures(sql_uow, "members", per_page=1000)["proposals"] for user in p["proposers"]}
    )
    known = {user: f"名{i}" for i, user in enumerate(everyone[1:])}  # the directory lacks the first
    asked = []

    def names(users):
        asked.append(list(users))
        return {user: known[user] for user in users if user in known}

    listed = year_figures(sql_uow, RulebookRules(), 2026, "members", STAFF, names, {"per_page": 1000})["proposals"]
    assert len(asked) == 1  # one ask for the page
    shown = {name for p in listed for name in p["proposers"]}
    assert shown == {everyone[0], *known.values()} and not shown & set(known)


def test_a_filed_proposal_whose_process_was_cancelled_is_no_longer_among_the_filed(sql_uow):
    """What supervision chooses key proposals among (``key_facts``): the filed ones still handled."""
    fake = FakeIntakeUnitOfWork()
    fill(fake)
    numbers = [p.number for p in sql_uow.proposals.filed_of_year(2026)]
    assert numbers == [p.number for p in fake.proposals.filed_of_year(2026)]
    assert numbers == ["2026-0001", "2026-0002", "2026-0003", "2026-0004"]


def test_the_years_counts_are_read_from_the_index_alone(sql_uow, db_kind):
    """On SQLite (whose planner does not depend on the table's size), every count of the year's
    proposals reads ``ix_proposals_year_counts`` alone, grouped in its order: no proposal's row
    (its texts) and no sort, however many proposals the year holds. PostgreSQL's plans depend on
    the table's statistics; bench/growth.py --explain records them on a loaded database."""
    if db_kind != "sqlite":
        pytest.skip("the plan is asserted on SQLite; PostgreSQL's depends on the statistics")
    session = sql_uow.session
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    engine = session.get_bind().engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        sql_uow.proposals.year_counts(2026)
        sql_uow.proposals.area_decisions(2026)
        sql_uow.proposals.year_page(2026, True, 0, 100)  # the public notice's count: the published alone
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    counts = [(s, p) for s, p in seen if "count(" in s and s.split("FROM", 1)[1].lstrip().startswith("proposals")]
    assert len(counts) == 3
    for statement, parameters in counts:
        plan = " | ".join(
            row[-1] for row in session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        )
        assert "USING COVERING INDEX ix_proposals_year_counts (year=?)" in plan, plan
        assert "TEMP B-TREE" not in plan, plan


def test_the_migration_fills_each_proposals_answer_from_its_history(intake_url, sessions):
    """Taken down to before the answer was kept on the proposal and up again, each proposal's
    reply category and lead unit come back from its last ``published`` / ``publication_declined``
    line (gq_answer_on_proposal), so the year's counts are what they were; a later line wins."""
    from alembic import command

    from shared.db import alembic_config

    with sessions() as session:
        uow = SqlIntakeUnitOfWork(session)
        fill(uow)
        declined = uow.proposals.by_number("2026-0003")
        record_answer(uow, declined, "staff", "publication_declined", {"reply_category": "C", "units": ["health"]})
        session.commit()
        before = uow.proposals.year_counts(2026)
    assert before["categories"] == {"A": 1, "B": 1, "C": 1} and before["answered"] == 3
    command.downgrade(alembic_config("intake", intake_url), "gp_no_bigram_count_index")
    command.upgrade(alembic_config("intake", intake_url), "head")
    with sessions() as session:
        assert SqlIntakeUnitOfWork(session).proposals.year_counts(2026) == before
        answers = dict(session.execute(select(Proposal.number, Proposal.lead_unit)).all())
    assert answers["2026-0002"] == "education" and answers["2026-0003"] == "health"
    assert answers["2026-0004"] is None and answers["2025-0011"] == "health"
