"""BPMN messages: correlated by name and the instance's business key; one that finds no waiting
instance is buffered and delivered when an instance waits for it; a message id seen before is not
delivered again.

A buffered message expires after its time to live only while no live instance has its correlation
key: a message for an instance that exists (suspended, blocked by an incident, or waiting
elsewhere for now) is kept for it however long that takes, and delivered when it waits for it
(on resume, after a migration…). Every message still waiting is listed by :meth:`Messages.list`
(``ztc messages``), with the instance it is for, if any."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, cast

from marshmallow import ValidationError
from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import (
    Exists,
    SQLColumnExpression,
    Table,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared import clock, contracts
from shared.db import pooled, transaction
from shared.direct import Direct, send_held
from shared.errors import InvalidInput
from shared.workflow.runtime import WaitState

from .models import BufferedMessage, Instance
from .store import ENDED, INSTANCES, STEP_COLUMNS, InstanceStore, Saved, StepInstance, iso, step_instance

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
BUFFER = insert(MESSAGES)
BUFFERED_COLUMNS = (
    "message_id",
    "name",
    "correlation_key",
    "payload",
    "status",
    "instance_id",
    "received_at",
    "expires_at",
)
# The instances a message is for now: its correlation key, waiting for its name; each with the
# columns its step reads (store.STEP_COLUMNS), so the first is stepped without reading it again.
WAITING_FOR = select(*STEP_COLUMNS).where(
    INSTANCES.c.business_key == bindparam("correlation_key"),
    INSTANCES.c.waiting_messages.like(bindparam("pattern")),
)
# The same, run on the driver's cursor (shared/direct.py): a step's own statements.
DELIVERED_DIRECT = Direct(DELIVERED, ("status", "instance_id"))
BUFFER_DIRECT = Direct(BUFFER, BUFFERED_COLUMNS)
WAITING_FOR_DIRECT = Direct(WAITING_FOR)
DELIVERED_IN = "ztc_messages_delivered"  # session.info: message id -> instance, delivered in this transaction
PENDING = "ztc_message_pending"  # session.info: the message send brought, written by the save that sees it

log = logging.getLogger(__name__)


class _Duplicate(Exception):
    """The message id was buffered before (its insert met the primary key)."""


def _live_instance_for(message_key: SQLColumnExpression[str]) -> Exists:
    """SQL: a live (not ended) instance has this correlation key as its business key."""
    return exists().where(and_(Instance.business_key == message_key, Instance.status.not_in(ENDED)))


# The tick's two sweeps, every second in every engine process whether or not a message waits: each
# is built once and runs on a pooled connection without a session; the expiry writes (a write lock
# on SQLite) only when a look found a buffered message past its time to live.
INSTANCES_WAITING_FOR_BUFFERED = (
    select(Instance.id)
    .join(BufferedMessage, BufferedMessage.correlation_key == Instance.business_key)
    .where(
        BufferedMessage.status == "buffered",
        Instance.waiting_messages.like(literal("%|") + BufferedMessage.name + literal("|%")),
    )
    .distinct()
    .limit(bindparam("limit"))
)
_PAST_TTL = (BufferedMessage.status == "buffered", BufferedMessage.expires_at <= bindparam("now"))
ANY_PAST_TTL = select(BufferedMessage.message_id).where(*_PAST_TTL).limit(1)
EXPIRE = (
    update(BufferedMessage)
    .where(*_PAST_TTL, ~_live_instance_for(BufferedMessage.correlation_key))
    .values(status="expired")
)


class Messages:
    def __init__(self, store: InstanceStore) -> None:
        self.store = store

    def send(self, raw: dict[str, Any], principal: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Correlate a message by name and correlation key (the instance's business key).

        One transaction finds the instance waiting for the message and steps it: its save delivers
        the buffered messages it waits for, oldest first, then this one, written as delivered, or
        buffered if it was not taken (see :meth:`deliver_buffered`); retried whole on a stale
        revision. With no instance waiting, the transaction buffers it. Should the step fail, the
        message is buffered alone, as before any step, and the failure reported. A message id seen
        before is a duplicate however far the step went: its transaction is rolled back."""
        store = self.store
        try:
            message = MESSAGE_SCHEMA.load(raw)
        except ValidationError as exc:
            raise InvalidInput("malformed message", exc.messages) from None
        now = clock.now()
        assert store.settings is not None  # only an engine made to validate diagrams has none
        message_id = message["message_id"]
        row = {
            "message_id": message_id,
            "name": message["name"],
            "correlation_key": message["correlation_key"],
            "payload": message["payload"],
            "status": "buffered",
            "instance_id": None,
            "received_at": now,
            "expires_at": now + timedelta(seconds=store.settings.message_ttl_seconds),
        }
        waiting = {"correlation_key": message["correlation_key"], "pattern": f"%|{message['name']}|%"}
        candidates: list[str] = []

        def find(s: Session) -> StepInstance | None:
            conn = s.connection()
            found = [step_instance(r) for r in WAITING_FOR_DIRECT.rows(conn, waiting)]
            candidates[:] = [inst.id for inst in found]
            if not found:
                self._insert(conn, row)  # nobody waits for it: buffered
                return None
            # The first instance's save delivers it after the messages buffered before it, or buffers it.
            s.info[PENDING] = row
            return found[0]

        def delivered(s: Session, inst: StepInstance, saved: Saved) -> dict[str, Any]:
            to = s.info.get(DELIVERED_IN, {}).get(message_id)
            return {"status": "delivered" if to else "buffered", "message_id": message_id, "delivered_to": to}

        try:
            answer = store.mutate(find, lambda s, inst, wf: "checked", principal, answer=delivered)
        except _Duplicate:
            return self._duplicate(message_id)
        except Exception:
            self._buffer_alone(row)
            raise
        if answer is None:  # no instance waits for it: buffered
            return {"status": "buffered", "message_id": message_id, "delivered_to": None}
        if len(candidates) == 1 or answer["status"] == "delivered":
            return dict(answer)
        for instance_id in candidates[1:]:
            # Saving the instance delivers buffered messages it waits for (see deliver_buffered).
            store.mutate(instance_id, lambda s, inst, wf: "checked", principal)
        with transaction(store.sessions) as s:
            kept = s.get(BufferedMessage, message_id)
            assert kept is not None  # buffered above
            return {"status": kept.status, "message_id": kept.message_id, "delivered_to": kept.instance_id}

    def _duplicate(self, message_id: str) -> dict[str, Any]:
        with transaction(self.store.sessions) as s:
            seen = s.get(BufferedMessage, message_id)
            assert seen is not None  # the insert that failed found it
            return {
                "status": "duplicate",
                "message_id": seen.message_id,
                "delivered_to": seen.instance_id,
                "state": seen.status,
            }

    def _buffer_alone(self, row: Mapping[str, Any]) -> None:
        """The step a message was sent to failed and took the message with it: keep it buffered
        (a message is kept whatever becomes of its instance; the sweep delivers it later)."""
        try:
            with transaction(self.store.sessions) as s:
                s.connection().execute(BUFFER, dict(row))
        except IntegrityError:
            pass  # buffered meanwhile by a second delivery of it
        except Exception:  # noqa: BLE001 - the step's own failure is what the caller is told
            log.exception("the message %s could not be buffered after its step failed", row["message_id"])

    def deliver_buffered(self, s: Session, inst: StepInstance, workflow: BpmnWorkflow, wait: WaitState) -> WaitState:
        """A save step: deliver the buffered messages the instance waits for, oldest first, then
        the message this transaction's :meth:`send` brought, if it waits for that too (written
        delivered; else buffered). Returns the wait state after them (``wait`` itself if none was
        delivered). Each message is written after the instance took it: on SQLite no write lock is
        held while a diagram's script runs."""
        pending: dict[str, Any] | None = s.info.pop(PENDING, None)
        conn = s.connection()
        wait = self._deliver(s, conn, inst, workflow, wait, pending)
        if pending is not None and pending["message_id"] not in s.info.get(DELIVERED_IN, {}):
            self._insert(conn, pending)  # the instance did not take it: buffered
        return wait

    def _deliver(
        self,
        s: Session,
        conn: Connection,
        inst: StepInstance,
        workflow: BpmnWorkflow,
        wait: WaitState,
        pending: dict[str, Any] | None,
    ) -> WaitState:
        if not inst.business_key:
            return wait
        runtime = self.store.runtime
        if pending is not None and pending["correlation_key"] != inst.business_key:
            pending = None
        while wait.waiting_messages:
            message = conn.execute(
                NEXT_BUFFERED, {"names": wait.waiting_messages, "correlation_key": inst.business_key}
            ).one_or_none()
            if message is not None:
                message_id, name, payload = message.message_id, message.name, message.payload
            elif pending is not None and pending["name"] in wait.waiting_messages:
                message_id, name, payload = pending["message_id"], pending["name"], pending["payload"]
            else:
                return wait
            if not runtime.deliver_message(workflow, name, payload):
                return wait
            if message is None:
                assert pending is not None
                self._insert(conn, dict(pending, status="delivered", instance_id=inst.id))
                pending = None
            else:
                DELIVERED_DIRECT.later(
                    conn, {"delivered_id": message_id, "status": "delivered", "instance_id": inst.id}
                )
            s.info.setdefault(DELIVERED_IN, {})[message_id] = inst.id
            self.store.history(
                s, inst.id, None, "message_delivered", name, {"message_id": message_id, "payload": payload}
            )
            wait = runtime.wait_state(workflow)
        return wait

    @staticmethod
    def _insert(conn: Connection, row: Mapping[str, Any]) -> None:
        send_held(conn)  # a duplicate key below is this message's own, not a held write's
        try:
            BUFFER_DIRECT.execute(conn, row)
        except IntegrityError:
            raise _Duplicate() from None

    def deliver_waiting(self, limit: int = 100) -> int:
        """Deliver buffered messages whose instance waits for them now.

        ``send`` and an instance's save each look for the other, but under READ COMMITTED both can
        look before the other commits (a unit's reply arriving while the engine is still saving the
        step that starts waiting for it), and then neither finds the other. The timer tick runs
        this sweep, so such a message waits at most one tick. Returns instances moved."""
        with pooled(self.store.sessions) as conn:
            instance_ids = conn.execute(INSTANCES_WAITING_FOR_BUFFERED, {"limit": limit}).scalars().all()
        for instance_id in instance_ids:
            # Saving the instance delivers what it waits for (see deliver_buffered).
            self.store.mutate(instance_id, lambda s, inst, wf: "checked")
        return len(instance_ids)

    def expire(self) -> int:
        """Expire buffered messages past their time to live that no live instance could take."""
        now = clock.now()
        with pooled(self.store.sessions) as conn:
            if conn.execute(ANY_PAST_TTL, {"now": now}).first() is None:
                return 0
        with pooled(self.store.sessions) as conn, conn.begin():
            return int(conn.execute(EXPIRE, {"now": now}).rowcount)

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
