"""BPMN messages: correlated by name and the instance's business key; one that finds no waiting
instance is buffered for its time to live and delivered when an instance waits for it; a message
id seen before is not delivered again."""
from __future__ import annotations

from datetime import timedelta

from marshmallow import ValidationError
from sqlalchemy import literal, select, update
from sqlalchemy.exc import IntegrityError

from shared import clock, contracts
from shared.db import transaction
from shared.errors import InvalidInput

from .models import BufferedMessage, Instance


class Messages:
    def __init__(self, store):
        self.store = store

    def send(self, raw: dict, principal=None) -> dict:
        """Correlate a message by name and correlation key (the instance's business key)."""
        store = self.store
        try:
            message = contracts.MessageSchema().load(raw)
        except ValidationError as exc:
            raise InvalidInput("malformed message", exc.messages) from None
        now = clock.now()
        try:
            with transaction(store.sessions) as s:
                s.add(BufferedMessage(
                    message_id=message["message_id"], name=message["name"],
                    correlation_key=message["correlation_key"], payload=message["payload"],
                    status="buffered", received_at=now,
                    expires_at=now + timedelta(seconds=store.settings.message_ttl_seconds)))
        except IntegrityError:
            with transaction(store.sessions) as s:
                seen = s.get(BufferedMessage, message["message_id"])
                return {"status": "duplicate", "message_id": seen.message_id,
                        "delivered_to": seen.instance_id, "state": seen.status}
        with transaction(store.sessions) as s:
            candidates = s.scalars(select(Instance.id).where(
                Instance.business_key == message["correlation_key"],
                Instance.waiting_messages.like(f"%|{message['name']}|%"))).all()
        for instance_id in candidates:
            # Saving the instance delivers buffered messages it waits for (see deliver_buffered).
            store.mutate(instance_id, lambda s, inst, wf: "checked", principal)
        with transaction(store.sessions) as s:
            row = s.get(BufferedMessage, message["message_id"])
            return {"status": row.status, "message_id": row.message_id, "delivered_to": row.instance_id}

    def deliver_buffered(self, s, inst, workflow) -> None:
        """A save step: deliver the buffered messages the instance waits for, oldest first."""
        if not inst.business_key:
            return
        runtime = self.store.runtime
        while True:
            waiting = runtime.wait_state(workflow).waiting_messages
            if not waiting:
                return
            message = s.scalar(select(BufferedMessage).where(
                BufferedMessage.name.in_(waiting), BufferedMessage.correlation_key == inst.business_key,
                BufferedMessage.status == "buffered", BufferedMessage.expires_at > clock.now())
                .order_by(BufferedMessage.received_at).limit(1))
            if message is None or not runtime.deliver_message(workflow, message.name, message.payload):
                return
            message.status = "delivered"
            message.instance_id = inst.id
            self.store.history(s, inst.id, None, "message_delivered", message.name,
                               {"message_id": message.message_id, "payload": message.payload})

    def deliver_waiting(self, limit: int = 100) -> int:
        """Deliver buffered messages whose instance waits for them now.

        ``send`` and an instance's save each look for the other, but under READ COMMITTED both can
        look before the other commits (a unit's reply arriving while the engine is still saving the
        step that starts waiting for it), and then neither finds the other. The timer tick runs
        this sweep, so such a message waits at most one tick. Returns instances moved."""
        pattern = literal("%|") + BufferedMessage.name + literal("|%")
        with transaction(self.store.sessions) as s:
            instance_ids = s.scalars(
                select(Instance.id).join(BufferedMessage, BufferedMessage.correlation_key == Instance.business_key)
                .where(BufferedMessage.status == "buffered", BufferedMessage.expires_at > clock.now(),
                       Instance.waiting_messages.like(pattern))
                .distinct().limit(limit)).all()
        for instance_id in instance_ids:
            # Saving the instance delivers what it waits for (see deliver_buffered).
            self.store.mutate(instance_id, lambda s, inst, wf: "checked")
        return len(instance_ids)

    def expire(self) -> int:
        with transaction(self.store.sessions) as s:
            result = s.execute(update(BufferedMessage).where(
                BufferedMessage.status == "buffered", BufferedMessage.expires_at <= clock.now())
                .values(status="expired"))
            return result.rowcount
