"""``shared.db.read_pooled``: one read outside any transaction, on SQLite and PostgreSQL. On
PostgreSQL its connection is in autocommit while the read runs (no BEGIN before the statement, no
ROLLBACK when it goes back) and goes back to the pool as it came, also when the read failed; the
read sees what was committed before it and not what is still uncommitted, and the pool's
connections are still transactional for everyone else: a session's writes roll back as before."""

from __future__ import annotations

from datetime import timedelta

import pytest
import psycopg2.extensions
from sqlalchemy import select, text
from sqlalchemy.exc import ProgrammingError

from services.gateway import tokens
from services.gateway.models import ApiToken
from shared.db import ensure_postgres_database, migrate, read_pooled, session_factory, transaction
from shared.errors import Unauthenticated

pytestmark = pytest.mark.both_databases


@pytest.fixture
def sessions(settings):
    url = settings.database_url("gateway")
    if url.startswith("postgresql"):
        ensure_postgres_database(url)
    migrate("gateway", url)
    return session_factory(url)


def _issue(sessions, token: str, user: str = "m1") -> None:
    with transaction(sessions) as session:
        tokens.issue(session, user, ["member"], token=token, ttl=timedelta(hours=1))


def test_a_read_sees_what_was_committed_before_it_and_nothing_uncommitted(sessions):
    _issue(sessions, "ztc_committed")
    writer = sessions()
    try:
        tokens.issue(writer, "m2", ["member"], token="ztc_uncommitted", ttl=timedelta(hours=1))
        writer.flush()  # written, not committed
        with read_pooled(sessions) as conn:
            assert tokens.principal_for(conn, "Bearer ztc_committed") == {
                "user": "m1",
                "roles": ["member"],
                "unit": None,
            }
            with pytest.raises(Unauthenticated):
                tokens.principal_for(conn, "Bearer ztc_uncommitted")
    finally:
        writer.rollback()
        writer.close()


def test_a_revocation_counts_at_the_next_read(sessions):
    _issue(sessions, "ztc_revoked")
    with read_pooled(sessions) as conn:
        assert tokens.principal_for(conn, "Bearer ztc_revoked")["user"] == "m1"
    with transaction(sessions) as session:
        tokens.revoke(session, token="ztc_revoked")
    with read_pooled(sessions) as conn, pytest.raises(Unauthenticated, match="revoked"):
        tokens.principal_for(conn, "Bearer ztc_revoked")
    with read_pooled(sessions) as conn, pytest.raises(Unauthenticated):
        tokens.principal_for(conn, "Bearer ztc_unknown")


@pytest.mark.postgresql_only
def test_on_postgresql_the_read_is_its_own_transaction_and_the_connection_goes_back_as_it_came(sessions):
    _issue(sessions, "ztc_autocommit")
    with read_pooled(sessions) as conn:
        raw = conn.connection.dbapi_connection
        assert raw.autocommit is True
        conn.execute(select(ApiToken.user)).all()
        # psycopg2 began no transaction for the statement: the server sees the connection idle.
        assert raw.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    assert raw.autocommit is False
    with pytest.raises(ProgrammingError), read_pooled(sessions) as conn:
        raw = conn.connection.dbapi_connection
        conn.execute(text("SELECT no_such_column FROM api_tokens"))
    assert raw.autocommit is False
    session = sessions()
    try:
        tokens.issue(session, "m3", ["member"], token="ztc_rolled_back", ttl=timedelta(hours=1))
        session.flush()
        session.rollback()
    finally:
        session.close()
    with read_pooled(sessions) as conn, pytest.raises(Unauthenticated):
        tokens.principal_for(conn, "Bearer ztc_rolled_back")
