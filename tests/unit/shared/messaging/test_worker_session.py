"""A worker's commit wakes the outbox relay only when the transaction wrote an outbox row."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import DeclarativeBase, sessionmaker

from shared.messaging import outbox
from shared.messaging.database import WorkerSession
from shared.messaging.models import messaging_models


class _Base(DeclarativeBase):
    pass


Outbox, Inbox = messaging_models(_Base)


@pytest.fixture
def worker():
    engine = create_engine("sqlite://")
    _Base.metadata.create_all(engine)
    woken: list[bool] = []
    yield WorkerSession(sessionmaker(bind=engine), lambda: woken.append(True)), woken, engine
    engine.dispose()


def _rows(engine) -> list[tuple[str, str, dict]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(Outbox.exchange, Outbox.routing_key, Outbox.headers))]


def test_a_commit_that_sent_something_wakes_the_relay(worker):
    uow, woken, engine = worker
    outbox.publish_event(uow.session, Outbox, "proposal.filed", "e-1", "P-1")
    outbox.add(uow.session, Outbox, "ztc.units", "u1.assignment.created", {"n": 1}, headers={"event": "created"})
    uow.commit()
    assert woken == [True]
    assert _rows(engine) == [
        ("ztc.events", "proposal.filed", {}),
        ("ztc.units", "u1.assignment.created", {"event": "created"}),
    ]


def test_a_commit_that_sent_nothing_does_not(worker):
    uow, woken, engine = worker
    uow.session.execute(select(Outbox.id)).all()
    uow.commit()
    uow.commit()  # and a worker without a session at all
    assert woken == []


def test_what_a_rollback_undid_does_not_wake_the_next_commit(worker):
    uow, woken, engine = worker
    outbox.publish_event(uow.session, Outbox, "proposal.filed", "e-1", "P-1")
    uow.rollback()
    uow.commit()
    assert woken == []
    assert _rows(engine) == []
    outbox.publish_event(uow.session, Outbox, "proposal.filed", "e-2", "P-1")
    uow.commit()
    assert woken == [True]
