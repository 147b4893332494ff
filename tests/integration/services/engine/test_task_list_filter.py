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
from sqlalchemy import delete, insert, select

from services.engine.models import WorkItem
from services.engine.tasklist import TaskList, may_act, work_item_dict
from shared.db import dispose_all, migrate, session_factory, transaction

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
