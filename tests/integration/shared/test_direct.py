"""``shared.direct.Direct``: a Core statement run on the driver's cursor writes and reads what
SQLAlchemy's own execution writes and reads (JSON, UTC datetimes, nulls, a statement's own
literals), on SQLite and PostgreSQL; it refuses what SQLAlchemy refuses (a column it would not
write, a missing value), raises SQLAlchemy's exceptions, fires the cursor events, and commits or
rolls back with the caller's transaction. On PostgreSQL a write made with ``later`` travels with
the transaction's next statement: every statement still sees it, a rollback drops it, and its error
is still SQLAlchemy's."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, create_engine, delete, event, insert, select, update
from sqlalchemy.exc import ArgumentError, IntegrityError
from sqlalchemy.orm import sessionmaker

from services.engine.messages import BUFFERED_COLUMNS
from services.engine.models import BufferedMessage, History, Outbox
from shared.db import ensure_postgres_database, migrate, session_factory, transaction
from shared.direct import Direct, hold_writes, send_held
from tests.support import statements

pytestmark = pytest.mark.both_databases

AT = datetime(2026, 12, 2, 9, 30, 15, 123456, tzinfo=timezone.utc)
HISTORY = History.__table__
MESSAGES = BufferedMessage.__table__
OUTBOX = Outbox.__table__
HISTORY_KEYS = ("instance_id", "at", "actor", "action", "task", "data")
MESSAGE_KEYS = BUFFERED_COLUMNS  # every column of a buffered message the engine writes


@pytest.fixture
def sessions(database_url_template):
    url = database_url_template.format(service="engine")
    if url.startswith("postgresql"):
        ensure_postgres_database(url)
    migrate("engine", url)
    return session_factory(url)


def message(message_id: str, **changes) -> dict:
    row = {
        "message_id": message_id,
        "name": "unit_reply",
        "correlation_key": "2026-0001",
        "payload": {"category": "A", "text": "已办理。", "nested": [1, None, {"k": "v"}]},
        "status": "buffered",
        "instance_id": None,
        "received_at": AT,
        "expires_at": AT + timedelta(days=30),
    }
    return row | changes


def test_a_write_stores_what_sqlalchemy_would_and_a_read_gives_it_back_typed(sessions):
    direct = Direct(insert(MESSAGES), MESSAGE_KEYS)
    with transaction(sessions) as s:
        assert direct.execute(s.connection(), message("direct-1")) == 1
        s.connection().execute(insert(MESSAGES), message("core-1"))
    read = select(MESSAGES).where(MESSAGES.c.message_id == bindparam("id"))
    with transaction(sessions) as s:
        core = {
            k: s.connection().execute(read, {"id": i}).one()._asdict() for k, i in (("d", "direct-1"), ("c", "core-1"))
        }
        fast = {
            k: Direct(read).first(s.connection(), {"id": i})._asdict() for k, i in (("d", "direct-1"), ("c", "core-1"))
        }
    assert core["d"] | {"message_id": "core-1"} == core["c"]  # stored alike
    assert fast == core  # read alike: the payload decoded, the times aware UTC
    assert fast["d"]["payload"]["nested"] == [1, None, {"k": "v"}] and fast["d"]["received_at"] == AT


def test_an_update_counts_its_rows_and_a_statement_keeps_its_own_literals(sessions):
    with transaction(sessions) as s:
        Direct(insert(MESSAGES), MESSAGE_KEYS).execute(
            s.connection(), [message("m-1"), message("m-2"), message("m-3", status="delivered")]
        )
    mark = Direct(
        update(MESSAGES).where(MESSAGES.c.correlation_key == bindparam("key"), MESSAGES.c.status == "buffered"),
        ("status", "instance_id"),
    )
    with transaction(sessions) as s:
        assert mark.execute(s.connection(), {"key": "2026-0001", "status": "expired", "instance_id": "i-1"}) == 2
        assert mark.execute(s.connection(), {"key": "2026-0001", "status": "expired", "instance_id": "i-1"}) == 0
        statuses = sorted(
            (r.message_id, r.status, r.instance_id)
            for r in Direct(select(MESSAGES.c.message_id, MESSAGES.c.status, MESSAGES.c.instance_id)).rows(
                s.connection()
            )
        )
    assert statuses == [("m-1", "expired", "i-1"), ("m-2", "expired", "i-1"), ("m-3", "delivered", None)]


def test_it_refuses_a_value_it_would_not_write_and_a_missing_one_and_an_expanding_list(sessions):
    direct = Direct(insert(HISTORY), HISTORY_KEYS)
    row = {"instance_id": "i-1", "at": AT, "actor": "system", "action": "started", "task": None, "data": {}}
    with transaction(sessions) as s:
        with pytest.raises(ArgumentError, match="Unconsumed column names: surplus"):
            direct.execute(s.connection(), row | {"surplus": 1})
        with pytest.raises(ArgumentError, match="actor"):
            direct.execute(s.connection(), {k: v for k, v in row.items() if k != "actor"})
        with pytest.raises(ValueError, match="expand"):
            Direct(select(HISTORY).where(HISTORY.c.id.in_(bindparam("ids", expanding=True)))).rows(
                s.connection(), {"ids": [1]}
            )


def test_a_driver_error_is_sqlalchemys_and_the_transaction_rolls_back_whole(sessions):
    direct = Direct(insert(MESSAGES), MESSAGE_KEYS)
    history = Direct(insert(HISTORY), HISTORY_KEYS)
    with transaction(sessions) as s:
        direct.execute(s.connection(), message("dup"))
    with pytest.raises(IntegrityError):
        with transaction(sessions) as s:
            history.execute(
                s.connection(),
                {"instance_id": "i-2", "at": AT, "actor": "system", "action": "x", "task": None, "data": None},
            )
            direct.execute(s.connection(), message("dup"))
    with transaction(sessions) as s:
        assert s.connection().execute(select(HISTORY.c.id).where(HISTORY.c.instance_id == "i-2")).all() == []


def test_the_cursor_events_fire_and_a_returning_write_gives_its_rows(sessions):
    seen = []
    bind = sessions.kw["bind"]

    def record(_conn, _cursor, statement, *_rest):
        seen.append(statement.split()[0])

    outbox = Direct(
        insert(OUTBOX), ("exchange", "routing_key", "payload", "headers", "available_at", "created_at", "attempts")
    )
    event.listen(bind, "before_cursor_execute", record)
    try:
        with transaction(sessions) as s:
            outbox.execute(
                s.connection(),
                {
                    "exchange": "ztc.jobs",
                    "routing_key": "intake.x",
                    "payload": {"n": 1},
                    "headers": {},
                    "available_at": AT,
                    "created_at": AT,
                    "attempts": 0,
                },
            )
    finally:
        event.remove(bind, "before_cursor_execute", record)
    assert seen == ["INSERT"]
    if bind.dialect.name == "postgresql":
        take = Direct(delete(OUTBOX).where(OUTBOX.c.routing_key == bindparam("key")).returning(OUTBOX.c.payload))
        with transaction(sessions) as s:
            assert [r.payload for r in take.rows(s.connection(), {"key": "intake.x"})] == [{"n": 1}]


def test_outside_a_transaction_sqlalchemy_runs_it_and_commits_nothing_unasked(sessions):
    direct = Direct(insert(MESSAGES), MESSAGE_KEYS)
    with sessions.kw["bind"].connect() as conn:
        assert not conn.in_transaction()
        direct.execute(conn, message("loose"))  # SQLAlchemy's autobegin: rolled back unless committed
    with transaction(sessions) as s:
        assert Direct(select(MESSAGES.c.message_id)).rows(s.connection()) == []


def history_row(instance_id: str, action: str = "x", data=None) -> dict:
    return {"instance_id": instance_id, "at": AT, "actor": "system", "action": action, "task": None, "data": data}


def ids_of(s, instance_id: str) -> list[str]:
    rows = s.connection().execute(
        select(HISTORY.c.action).where(HISTORY.c.instance_id == instance_id).order_by(HISTORY.c.id)
    )
    return [r.action for r in rows]


@pytest.fixture
def holding(sessions):
    """The sessions, their engine sending held writes (as the engine's store installs it)."""
    hold_writes(sessions.kw["bind"])
    return sessions


def test_held_writes_go_with_the_next_statement_in_their_order_and_it_keeps_its_own_results(holding):
    sessions = holding
    history = Direct(insert(HISTORY), HISTORY_KEYS)
    mark = Direct(update(MESSAGES).where(MESSAGES.c.message_id == bindparam("id")), ("status",))
    read = Direct(
        select(HISTORY.c.action, HISTORY.c.data).where(HISTORY.c.instance_id == bindparam("i")).order_by(HISTORY.c.id)
    )
    bind = sessions.kw["bind"]
    postgresql = bind.dialect.name == "postgresql"
    with transaction(sessions) as s:
        Direct(insert(MESSAGES), MESSAGE_KEYS).execute(s.connection(), message("held-1"))
    with statements(bind) as seen, transaction(sessions) as s:
        conn = s.connection()
        # A value with the characters a rendered statement must keep: a quote, a semicolon, a percent sign.
        history.later(conn, history_row("h-1", "first", {"text": "it's 100%; done"}))
        history.later(conn, [history_row("h-1", "second"), history_row("h-1", "third")])
        assert len(seen) == (0 if postgresql else 2)  # held on PostgreSQL, written at once on SQLite
        assert mark.execute(conn, {"id": "held-1", "status": "delivered"}) == 1  # its own row count
        assert mark.execute(conn, {"id": "nobody", "status": "delivered"}) == 0
        history.later(conn, history_row("h-1", "fourth"))
        rows = read.rows(conn, {"i": "h-1"})  # a read carrying a held write sees it
    assert [(r.action, r.data) for r in rows] == [
        ("first", {"text": "it's 100%; done"}),
        ("second", None),
        ("third", None),
        ("fourth", None),
    ]
    if postgresql:  # three held, then the update; one statement; the read carrying the fourth
        assert len(seen) == 3 and seen[0].count("INSERT INTO history") == 3 and "UPDATE messages" in seen[0]
        assert seen[2].startswith("INSERT INTO history") and "SELECT" in seen[2]


def test_sqlalchemys_own_statements_and_the_commit_send_what_is_held_and_a_rollback_drops_it(holding):
    sessions = holding
    history = Direct(insert(HISTORY), HISTORY_KEYS)
    with transaction(sessions) as s:
        history.later(s.connection(), history_row("h-2", "seen"))
        assert ids_of(s, "h-2") == ["seen"]  # a statement SQLAlchemy runs sends the held write first
        history.later(s.connection(), history_row("h-2", "at commit"))
    with transaction(sessions) as s:
        assert ids_of(s, "h-2") == ["seen", "at commit"]
    with pytest.raises(RuntimeError):
        with transaction(sessions) as s:
            history.later(s.connection(), history_row("h-2", "rolled back"))
            raise RuntimeError("the step failed")
    with transaction(sessions) as s:  # very likely the same pooled connection: nothing held is left on it
        history.later(s.connection(), history_row("h-2", "after"))
    with transaction(sessions) as s:
        assert ids_of(s, "h-2") == ["seen", "at commit", "after"]


def stored(sessions, message_id: str) -> tuple[Direct, Direct]:
    """A buffered message stored as ``message_id`` (so a second insert of it is a duplicate key);
    the inserts of a buffered message and of a history row."""
    messages, history = Direct(insert(MESSAGES), MESSAGE_KEYS), Direct(insert(HISTORY), HISTORY_KEYS)
    with transaction(sessions) as s:
        messages.execute(s.connection(), message(message_id))
    return messages, history


def test_a_held_writes_error_is_sqlalchemys_raised_with_the_statement_that_carries_it(holding):
    sessions = holding
    messages, history = stored(sessions, "dup-held")
    with pytest.raises(IntegrityError):
        with transaction(sessions) as s:
            messages.later(s.connection(), message("dup-held"))
            history.execute(s.connection(), history_row("h-3"))
    with pytest.raises(IntegrityError):
        with transaction(sessions) as s:  # one sent on its own (before an insert whose duplicate is expected)
            messages.later(s.connection(), message("dup-held"))
            send_held(s.connection())
    with transaction(sessions) as s:
        assert ids_of(s, "h-3") == []


def test_an_engine_that_does_not_send_held_writes_gets_each_write_at_once(sessions):
    # Its own engine on the same database: hold_writes was never installed on it.
    bind = create_engine(sessions.kw["bind"].url)
    own = sessionmaker(bind=bind)
    try:
        with statements(bind) as seen, transaction(own) as s:
            Direct(insert(HISTORY), HISTORY_KEYS).later(s.connection(), history_row("h-4", "at once"))
            assert len(seen) == 1
        with transaction(own) as s:
            assert ids_of(s, "h-4") == ["at once"]
    finally:
        bind.dispose()


def test_a_held_write_that_fails_at_commit_commits_nothing_and_the_next_transaction_is_clean(holding):
    sessions = holding
    messages, history = stored(sessions, "dup-commit")
    with pytest.raises(IntegrityError):
        with transaction(sessions) as s:
            history.later(s.connection(), history_row("h-5", "before"))
            messages.later(s.connection(), message("dup-commit"))  # sent, and refused, at the commit
    with transaction(sessions) as s:  # the pooled connection is usable, and holds nothing of it
        history.later(s.connection(), history_row("h-5", "next"))
    with transaction(sessions) as s:
        assert ids_of(s, "h-5") == ["next"]
