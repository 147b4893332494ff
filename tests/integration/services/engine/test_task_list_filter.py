"""The task list filtered in SQL (``tasklist.visible_to``) answers exactly what filtering every
open work item with ``may_act`` in Python answers, on random work items and principals, on a
database of each kind migrated as in production."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, update

from services.engine.models import WorkItem
from services.engine.tasklist import TaskList, may_act, open_where, work_item_dict
from shared.db import dispose_all, migrate, session_factory, transaction
from shared.errors import InvalidInput

pytestmark = pytest.mark.both_databases

ROLES = ["staff", "committee", "unit", "member", "leader", ""]
UNITS = ["transport", "education", "health", ""]
USERS = ["li.ming", "zhang.wei", "handler.chen", ""]
START = datetime(2026, 3, 1, tzinfo=timezone.utc)

maybe = lambda values: st.one_of(st.none(), st.sampled_from(values))  # noqa: E731
items = st.lists(
    st.fixed_dictionaries(
        {
            "candidate_role": maybe(ROLES),
            "candidate_unit": maybe(UNITS),
            "candidate_user": maybe(USERS),
            "status": st.sampled_from(["open", "open", "completed", "cancelled"]),
            "minute": st.integers(0, 50),
        }
    ),
    max_size=40,
)
principals = st.fixed_dictionaries(
    {"user": maybe(USERS), "roles": st.lists(st.sampled_from(ROLES), max_size=3, unique=True), "unit": maybe(UNITS)}
)


@pytest.fixture(scope="module")
def tasks(db_kind, tmp_path_factory):
    from tests import support

    if db_kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('tasks')}/engine.db"
        migrate("engine", url)
        yield TaskList(SimpleNamespace(sessions=session_factory(url)), incidents=None)
    else:
        with support.postgres_databases() as template:
            url = template.format(service="engine")
            migrate("engine", url)
            yield TaskList(SimpleNamespace(sessions=session_factory(url)), incidents=None)
            dispose_all()
    dispose_all()


def load(tasks, rows):
    with transaction(tasks.store.sessions) as s:
        s.execute(delete(WorkItem))
        if rows:
            s.execute(
                insert(WorkItem),
                [
                    {
                        "task_id": str(uuid.uuid4()),
                        "instance_id": str(uuid.uuid4()),
                        "process_id": "proposal",
                        "business_key": None,
                        "task_name": "review",
                        "title": "预审",
                        "form_schema": None,
                        "claimed_by": None,
                        "created_at": START + timedelta(minutes=row["minute"]),
                        **{k: row[k] for k in ("candidate_role", "candidate_unit", "candidate_user", "status")},
                    }
                    for row in rows
                ],
            )


def filtered_in_python(tasks, principal):
    with transaction(tasks.store.sessions) as s:
        everything = s.scalars(
            select(WorkItem).where(WorkItem.status == "open").order_by(WorkItem.created_at, WorkItem.task_id)
        ).all()
        return [work_item_dict(w) for w in everything if may_act(w, principal)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=items, people=st.lists(principals, min_size=1, max_size=4))
def test_the_sql_filter_answers_what_may_act_answers(tasks, rows, people):
    load(tasks, rows)
    for principal in people:
        assert tasks.list(principal) == filtered_in_python(tasks, principal)


def test_a_unit_handler_sees_only_the_open_work_of_their_role_and_unit(tasks):
    load(
        tasks,
        [
            {
                "candidate_role": "unit",
                "candidate_unit": "transport",
                "candidate_user": None,
                "status": "open",
                "minute": 1,
            },
            {
                "candidate_role": "unit",
                "candidate_unit": "education",
                "candidate_user": None,
                "status": "open",
                "minute": 2,
            },
            {"candidate_role": "staff", "candidate_unit": None, "candidate_user": None, "status": "open", "minute": 3},
            {
                "candidate_role": "unit",
                "candidate_unit": "transport",
                "candidate_user": None,
                "status": "completed",
                "minute": 4,
            },
            {
                "candidate_role": None,
                "candidate_unit": None,
                "candidate_user": "handler.chen",
                "status": "open",
                "minute": 5,
            },
            {
                "candidate_role": None,
                "candidate_unit": None,
                "candidate_user": "li.ming",
                "status": "open",
                "minute": 6,
            },
        ],
    )
    seen = tasks.list({"user": "handler.chen", "roles": ["unit"], "unit": "transport"})
    assert [(w["candidate_role"], w["candidate_unit"], w["candidate_user"]) for w in seen] == [
        ("unit", "transport", None),
        (None, None, "handler.chen"),
    ]
    assert tasks.list(None) == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=items, principal=principals, per_page=st.integers(1, 7))
def test_the_pages_in_turn_list_what_may_act_answers_once_each_with_the_total(tasks, rows, principal, per_page):
    load(tasks, rows)
    expected = filtered_in_python(tasks, principal)
    pages = [tasks.page(principal, {"per_page": per_page})]
    while pages[-1]["page"] * per_page < pages[-1]["total"]:
        pages.append(tasks.page(principal, {"page": pages[-1]["page"] + 1, "per_page": per_page}))
    assert [w for p in pages for w in p["items"]] == expected
    assert {p["total"] for p in pages} == {len(expected)}
    assert all(len(p["items"]) <= per_page for p in pages)
    assert tasks.page(principal, {"page": len(pages) + 1, "per_page": per_page})["items"] == []


def test_a_page_is_fifty_by_default_and_at_most_two_hundred_and_filters_by_business_key(tasks):
    staff = {"candidate_role": "staff", "candidate_unit": None, "candidate_user": None, "status": "open"}
    load(tasks, [{**staff, "minute": n % 50} for n in range(60)])
    first = tasks.page({"user": "li.ming", "roles": ["staff"]})
    assert (first["page"], first["per_page"], first["total"], len(first["items"])) == (1, 50, 60, 50)
    assert len(tasks.page({"roles": ["staff"]}, {"page": 2})["items"]) == 10
    for wrong in ({"per_page": 201}, {"per_page": 0}, {"page": 0}, {"page": "x"}):
        with pytest.raises(InvalidInput):
            tasks.page({"roles": ["staff"]}, wrong)
    wanted = first["items"][37]
    with transaction(tasks.store.sessions) as s:
        s.execute(update(WorkItem).where(WorkItem.task_id == wanted["task_id"]).values(business_key="2026-0038"))
    [found] = tasks.page({"roles": ["staff"]}, {"business_key": "2026-0038"})["items"]
    assert found["task_id"] == wanted["task_id"]
    assert tasks.page({"roles": ["member"]}, {"business_key": "2026-0038"})["total"] == 0  # still only one's own
    assert [w["task_id"] for w in tasks.list({"roles": ["staff"]}, business_key="2026-0038")] == [wanted["task_id"]]


def test_a_page_walks_the_ordered_index_one_range_per_kind_of_candidates(tasks, db_kind):
    """A person's page reads each kind of candidates they match as a range of
    ix_work_items_open_order already in the list's order, stopping after the rows a page needs:
    no range sorts its rows (PostgreSQL merges the ranges in order; SQLite sorts only the few rows
    each range handed over)."""
    from services.engine.tasklist import _page_statements, candidate_kinds
    from shared.db import pooled

    staff = {"candidate_role": "staff", "candidate_unit": None, "candidate_user": None, "status": "open"}
    load(tasks, [{**staff, "minute": n % 50} for n in range(200)])
    handler = {"user": "handler.chen", "roles": ["unit"], "unit": "transport"}
    kinds = candidate_kinds(handler)
    assert len(kinds) == 8 and ("unit", "transport", "") in kinds and ("", "", "handler.chen") in kinds
    _, page = _page_statements(len(kinds), ())
    params = {f"k{i}_{j}": v for i, kind in enumerate(kinds) for j, v in enumerate(kind)}
    params.update(reach=50, offset=0, limit=50)
    with pooled(tasks.store.sessions) as conn:
        conn.exec_driver_sql("ANALYZE" if db_kind == "sqlite" else "ANALYZE work_items")
        compiled = page.compile(conn)
        sql, values = str(compiled), compiled.construct_params(params)
        if db_kind == "sqlite":
            plan = list(
                conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, tuple(values[k] for k in compiled.positiontup))
            )
            children: dict[int, list[str]] = {}
            for _node, parent, _, detail in plan:
                children.setdefault(parent, []).append(detail)
            ranges = [children[node] for node, _, _, detail in plan if detail.startswith("CO-ROUTINE")]
            assert len(ranges) == len(kinds), plan
            for steps in ranges:
                assert any("USING INDEX ix_work_items_open_order" in step for step in steps), plan
                assert not any("TEMP B-TREE" in step for step in steps), plan
        else:
            plan = [row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql, values)]
            ranges = [line for line in plan if "Index Scan using ix_work_items_open_order" in line]
            assert len(ranges) == len(kinds), plan
            assert not [line for line in plan if line.strip().lstrip("-> ").startswith("Sort  ")], plan


def test_a_persons_task_of_one_proposal_is_read_by_its_key(tasks, db_kind):
    """``complete_open_task`` and ``?business_key=`` look for one proposal's task: the database
    finds it by ix_work_items_business_key, not among every open item of the person's role."""
    from shared.db import pooled

    staff = {"candidate_role": "staff", "candidate_unit": None, "candidate_user": None, "status": "open"}
    load(tasks, [{**staff, "minute": n % 50} for n in range(300)])
    with transaction(tasks.store.sessions) as s:
        one = s.scalars(select(WorkItem.task_id).limit(1)).one()
        s.execute(update(WorkItem).where(WorkItem.task_id == one).values(business_key="2026-0001"))
    query = select(WorkItem.task_id).where(*open_where({"roles": ["staff"]}, {"business_key": "2026-0001"}))
    with pooled(tasks.store.sessions) as conn:
        conn.exec_driver_sql("ANALYZE" if db_kind == "sqlite" else "ANALYZE work_items")
        sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
        explain = "EXPLAIN QUERY PLAN " if db_kind == "sqlite" else "EXPLAIN "
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(explain + sql))
    assert "ix_work_items_business_key" in plan, plan
    assert [w["task_id"] for w in tasks.list({"roles": ["staff"]}, business_key="2026-0001")] == [one]
