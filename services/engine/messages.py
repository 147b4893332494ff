"""BPMN messages: correlated by name and the instance's business key; one that finds no waiting
instance is buffered and delivered when an instance waits for it; a message id seen before is not
delivered again.

A buffered message expires after its time to live only while no live instance has its correlation
key: a message for an instance that exists (suspended, blocked by an incident, or waiting
elsewhere for now) is kept for it however long that takes, and delivered when it waits for it
(on resume, after a migration…). Every message still waiting is listed by :meth:`Messages.list`
(``ztc messages``), with the instance it is for, if any."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, cast

from marshmallow import ValidationError
from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import Exists, SQLColumnExpression, Table, and_, bindparam, exists, func, literal, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared import clock, contracts
from shared.db import transaction
from shared.errors import InvalidInput
from shared.workflow.runtime import WaitState

from .models import BufferedMessage, Instance
from .store import ENDED, InstanceStore, StepInstance, iso

MESSAGE_SCHEMA = contracts.MessageSchema()  # no state or hooks: made once
MESSAGES = cast(Table, BufferedMessage.__table__)
# A save looks for the oldest buffered message its instance waits for (its own instance's: kept
# past the time to live for it) and marks it delivered, with statements built once.
NEXT_BUFFERED = (
    select(MESSAGES.c.message_id, MESSAGES.c.name, MESSAGES.c.payload)
    .where(
        MESSAGES.c.name.in_(bindparam("names", expanding=True)),
        MESSAGES.c.correlation_key == bindparam("correlation_key"),
        MESSAGES.c.status == "buffered",
    )
    .order_by(MESSAGES.c.received_at)
    .limit(1)
)
DELIVERED = update(MESSAGES).where(MESSAGES.c.message_id == bindparam("delivered_id"))


def _live_instance_for(message_key: SQLColumnExpression[str]) -> Exists:
    """SQL: a live (not ended) instance has this correlation key as its business key."""
    return exists().where(and_(Instance.business_key == message_key, Instance.status.not_in(ENDED)))


class Messages:
    def __init__(self, store: InstanceStore) -> None:
        self.store = store

    def send(self, raw: dict[str, Any], principal: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Correlate a message by name and correlation key (the instance's business key)."""
        store = self.store
        try:
            message = MESSAGE_SCHEMA.load(raw)
        except ValidationError as exc:
            raise InvalidInput("malformed message", exc.messages) from None
        now = clock.now()
        assert store.settings is not None  # only an engine made to validate diagrams has none
        try:
            with transaction(store.sessions) as s:
                s.add(
                    BufferedMessage(
                        message_id=message["message_id"],
                        name=message["name"],
                        correlation_key=message["correlation_key"],
                        payload=message["payload"],
                        status="buffered",
                        received_at=now,
                        expires_at=now + timedelta(seconds=store.settings.message_ttl_seconds),
                    )
                )
        except IntegrityError:
            with transaction(store.sessions) as s:
                seen = s.get(BufferedMessage, message["message_id"])
                assert seen is not None  # the insert that failed found it
                return {
                    "status": "duplicate",
                    "message_id": seen.message_id,
                    "delivered_to": seen.instance_id,
                    "state": seen.status,
                }
        with transaction(store.sessions) as s:
            candidates = s.scalars(
                select(Instance.id).where(
                    Instance.business_key == message["correlation_key"],
                    Instance.waiting_messages.like(f"%|{message['name']}|%"),
                )
            ).all()
        for instance_id in candidates:
            # Saving the instance delivers buffered messages it waits for (see deliver_buffered).
            store.mutate(instance_id, lambda s, inst, wf: "checked", principal)
        with transaction(store.sessions) as s:
            row = s.get(BufferedMessage, message["message_id"])
            assert row is not None  # buffered above
            return {"status": row.status, "message_id": row.message_id, "delivered_to": row.instance_id}

    def deliver_buffered(self, s: Session, inst: StepInstance, workflow: BpmnWorkflow, wait: WaitState) -> WaitState:
        """A save step: deliver the buffered messages the instance waits for, oldest first.
        Returns the wait state after them (``wait`` itself if none was delivered)."""
        if not inst.business_key:
            return wait
        runtime = self.store.runtime
        conn = s.connection()
        while wait.waiting_messages:
            message = conn.execute(
                NEXT_BUFFERED, {"names": wait.waiting_messages, "correlation_key": inst.business_key}
            ).one_or_none()
            if message is None or not runtime.deliver_message(workflow, message.name, message.payload):
                return wait
            conn.execute(DELIVERED, {"delivered_id": message.message_id, "status": "delivered", "instance_id": inst.id})
            self.store.history(
                s,
                inst.id,
                None,
                "message_delivered",
                message.name,
                {"message_id": message.message_id, "payload": message.payload},
            )
            wait = runtime.wait_state(workflow)
        return wait

    def deliver_waiting(self, limit: int = 100) -> int:
        """Deliver buffered messages whose instance waits for them now.

        ``send`` and an instance's save each look for the other, but under READ COMMITTED both can
        look before the other commits (a unit's reply arriving while the engine is still saving the
        step that starts waiting for it), and then neither finds the other. The timer tick runs
        this sweep, so such a message waits at most one tick. Returns instances moved."""
        pattern = literal("%|") + BufferedMessage.name + literal("|%")
        with transaction(self.store.sessions) as s:
            instance_ids = s.scalars(
                select(Instance.id)
                .join(BufferedMessage, BufferedMessage.correlation_key == Instance.business_key)
                .where(BufferedMessage.status == "buffered", Instance.waiting_messages.like(pattern))
                .distinct()
                .limit(limit)
            ).all()
        for instance_id in instance_ids:
            # Saving the instance delivers what it waits for (see deliver_buffered).
            self.store.mutate(instance_id, lambda s, inst, wf: "checked")
        return len(instance_ids)

    def expire(self) -> int:
        """Expire buffered messages past their time to live that no live instance could take."""
        with transaction(self.store.sessions) as s:
            result = s.execute(
                update(BufferedMessage)
                .where(
                    BufferedMessage.status == "buffered",
                    BufferedMessage.expires_at <= clock.now(),
                    ~_live_instance_for(BufferedMessage.correlation_key),
                )
                .values(status="expired")
                .execution_options(synchronize_session=False)
            )
            return cast("CursorResult[Any]", result).rowcount

    def list(self, status: str | None = "buffered", name: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Messages (by default those still waiting), oldest first, each with the live instances
        its correlation key names: ``instances`` empty means no instance exists for it (it expires
        at ``expires_at``); otherwise whether each waits for it now (``waiting_for_it``) and its
        status (a suspended or blocked instance keeps its messages past the time to live)."""
        now = clock.now()
        with transaction(self.store.sessions) as s:
            query = select(BufferedMessage).order_by(BufferedMessage.received_at).limit(limit)
            if status:
                query = query.where(BufferedMessage.status == status)
            if name:
                query = query.where(BufferedMessage.name == name)
            rows = list(s.scalars(query))
            keys = {r.correlation_key for r in rows}
            instances: dict[str, Any] = {}
            if keys:
                for inst in s.execute(
                    select(
                        Instance.id,
                        Instance.business_key,
                        Instance.status,
                        Instance.process_id,
                        Instance.waiting_messages,
                    ).where(Instance.business_key.in_(keys), Instance.status.not_in(ENDED))
                ):
                    instances.setdefault(inst.business_key, []).append(inst)
            out = []
            for r in rows:
                live = instances.get(r.correlation_key, [])
                out.append(
                    {
                        "message_id": r.message_id,
                        "name": r.name,
                        "correlation_key": r.correlation_key,
                        "status": r.status,
                        "received_at": iso(r.received_at),
                        "expires_at": iso(r.expires_at),
                        "delivered_to": r.instance_id,
                        "payload": r.payload,
                        "kept_past_ttl": r.status == "buffered" and bool(live) and r.expires_at <= now,
                        "instances": [
                            {
                                "id": i.id,
                                "process_id": i.process_id,
                                "status": i.status,
                                "waiting_for_it": f"|{r.name}|" in (i.waiting_messages or ""),
                            }
                            for i in live
                        ],
                    }
                )
            return out


def buffered_counts(s: Session) -> list[tuple[str, str, int]]:
    """``(name, "yes"|"no", n)``: buffered messages by name and whether a live instance has their
    correlation key (for the metrics)."""
    rows = s.execute(
        select(BufferedMessage.name, BufferedMessage.correlation_key, func.count())
        .where(BufferedMessage.status == "buffered")
        .group_by(BufferedMessage.name, BufferedMessage.correlation_key)
    ).all()
    keys = {key for _, key, _ in rows}
    live = (
        set(
            s.scalars(
                select(Instance.business_key).where(Instance.business_key.in_(keys), Instance.status.not_in(ENDED))
            )
        )
        if keys
        else set()
    )
    counts: dict[tuple[str, str], int] = {}
    for name, key, n in rows:
        label = (name, "yes" if key in live else "no")
        counts[label] = counts.get(label, 0) + n
    return [(name, has, n) for (name, has), n in sorted(counts.items())]
