"""What a service sends the engine, written to the service's own outbox so it leaves only if the
service's transaction commits (publish after commit)."""
from __future__ import annotations

from shared import clock, contracts


def _add(session, outbox_model, routing_key, payload):
    now = clock.now()
    session.add(outbox_model(exchange=contracts.MESSAGES_EXCHANGE, routing_key=routing_key,
                             payload=payload, headers={}, available_at=now, created_at=now, attempts=0))


def send_message(session, outbox_model, name: str, correlation_key: str, message_id: str,
                 payload: dict | None = None) -> None:
    """A BPMN message for the instance whose business key is ``correlation_key``."""
    body = contracts.MessageSchema().load({"name": name, "correlation_key": correlation_key,
                                           "message_id": message_id, "payload": payload or {}})
    _add(session, outbox_model, contracts.MESSAGE_ROUTING_KEY, body)


def start_process(session, outbox_model, command_id: str, process_id: str, business_key: str | None,
                  data: dict, principal: dict | None) -> None:
    """Start ``process_id`` once, however often the command is delivered."""
    body = contracts.StartSchema().dump({"command_id": command_id, "process_id": process_id,
                                         "business_key": business_key, "data": data,
                                         "principal": principal})
    _add(session, outbox_model, contracts.START_ROUTING_KEY, body)
