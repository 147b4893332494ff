#!/usr/bin/env python3
"""A department's system talking to Zhitongche over AMQP: listen for assignments, sign, reply.

Needs only kombu (``pip install kombu``). It declares nothing: the assignment service declares
the exchanges and the unit's queue, and a department's broker user (``ztc units credentials issue
UNIT`` gives one) may only read its own queue and publish with its own unit's routing keys. Every
command carries the AMQP ``user_id`` of that user: the broker checks it, and the committee's side
takes the acting unit from it. See docs/unit-integration.md and docs/asyncapi.yaml.

    python examples/unit_client.py --amqp amqps://ztc-unit-transport:SECRET@mq.example.gov.cn:5671/ \
        --ca-file committee-ca.pem --unit transport listen --auto-sign
    python examples/unit_client.py --amqp ... --unit transport draft-reply 17 --category B --text "已列入计划" \
        --milestone "完成设计招标@2027-03-31" --milestone "完成改造@2027-09-30"
    python examples/unit_client.py --amqp ... --unit transport submit-reply 17
    python examples/unit_client.py --amqp ... --unit transport report-milestone 17 1 --note "设计招标已完成"
    python examples/unit_client.py --amqp ... --unit transport submit-followup 17 --text "公交站亭已完成改造"
    python examples/unit_client.py --amqp ... --unit transport record-contact 17 --kind face_to_face \
        --held-on 2027-03-05 --participants "王处长与张委员" --note "现场查看"
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import sys
import uuid
from urllib.parse import unquote, urlsplit

from kombu import Connection, Queue

# The committee's names (shared/contracts.py: unit_queue, UNIT_COMMANDS_EXCHANGE), written out
# here because a department's system does not import the committee's code.
UNITS_QUEUE = "ztc.unit.{unit}"  # the unit's own event queue
COMMANDS_EXCHANGE = "ztc.unit-commands"  # routing key "<unit>.<command>"
DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"


def user_of(amqp_uri: str) -> str:
    """The broker user the URI connects as: every command says it in its user_id."""
    return unquote(urlsplit(amqp_uri).username or "guest")


def send(producer, unit: str, command: str, body: dict, user: str) -> None:
    """Publish one command, persistent, as ``user`` (the AMQP user_id the broker checks), and wait
    for the broker's confirm. Its ``correlation_id`` comes back in a ``command.refused`` event on the
    unit's queue if the service refuses the command."""
    correlation_id = str(uuid.uuid4())
    producer.publish(
        body,
        exchange=COMMANDS_EXCHANGE,
        routing_key=f"{unit}.{command}",
        user_id=user,
        correlation_id=correlation_id,
        delivery_mode=2,
        retry=True,
        retry_policy={"max_retries": 3},
    )
    print(
        json.dumps({"sent": f"{unit}.{command}", "correlation_id": correlation_id, "body": body}, ensure_ascii=False),
        flush=True,
    )


def listen(conn: Connection, unit: str, user: str, auto_sign: bool, count: int | None, timeout: float | None) -> int:
    """Print each event on the unit's queue as one JSON line; ack it once handled.

    One event at a time (prefetch 1): nothing new arrives while a command waits for its confirm.
    """
    seen = 0
    producer = conn.Producer(channel=conn.channel(), serializer="json")

    def on_event(body, message):
        nonlocal seen
        print(
            json.dumps({"routing_key": message.delivery_info.get("routing_key"), "event": body}, ensure_ascii=False),
            flush=True,
        )
        if auto_sign and body.get("event") == "assignment.created":
            send(producer, unit, "sign", {"assignment_id": body["assignment"]["id"]}, user)
        message.ack()  # after handling: an unacked event comes back if this client dies
        seen += 1

    queue = Queue(UNITS_QUEUE.format(unit=unit), no_declare=True)
    with conn.Consumer(queue, callbacks=[on_event], accept=["json"], prefetch_count=1):
        while count is None or seen < count:
            try:
                conn.drain_events(timeout=timeout)
            except socket.timeout:
                print(json.dumps({"timeout": timeout, "events": seen}), file=sys.stderr)
                return 1
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="A department system's AMQP client for Zhitongche assignments.")
    p.add_argument("--amqp", default=DEFAULT_AMQP, help=f"broker URI with the unit's own user (default {DEFAULT_AMQP})")
    p.add_argument(
        "--ca-file", help="for amqps://: the CA certificate that signed the broker's (default: the system's CAs)"
    )
    p.add_argument("--unit", required=True, help="your unit's code, e.g. transport")
    sub = p.add_subparsers(dest="command", required=True)

    events = sub.add_parser("listen", help="print the events on your unit's queue")
    events.add_argument("--auto-sign", action="store_true", help="sign for (签收) each new assignment")
    events.add_argument("--count", type=int, help="stop after this many events")
    events.add_argument("--timeout", type=float, help="give up after this many seconds without an event")

    for name, text in (
        ("sign", "sign for an assignment (签收)"),
        ("cosign-reply", "co-sign the lead's reply (会签)"),
        ("submit-reply", "submit your drafted reply"),
    ):
        sub.add_parser(name, help=text).add_argument("assignment_id", type=int)
    objection = sub.add_parser("object", help="object to an assignment (异议)")
    objection.add_argument("assignment_id", type=int)
    objection.add_argument("--reason", required=True)
    given = sub.add_parser("send-input", help="a co-unit's input to the lead unit")
    given.add_argument("assignment_id", type=int)
    given.add_argument("--text", required=True)
    draft = sub.add_parser("draft-reply", help="draft or redraft your reply")
    draft.add_argument("assignment_id", type=int)
    draft.add_argument("--category", required=True, help="A, B or C (D where your committee enables it)")
    draft.add_argument("--text", required=True)
    draft.add_argument(
        "--milestone",
        action="append",
        dest="milestones",
        metavar="WHAT@YYYY-MM-DD",
        help="category B: a promised step and its date; repeat for each (at least one)",
    )
    milestone = sub.add_parser("report-milestone", help="report a milestone of your B reply done")
    milestone.add_argument("assignment_id", type=int)
    milestone.add_argument("milestone", type=int, help="its number in the reply, from 1")
    milestone.add_argument("--note", required=True, help="what was done")
    followup = sub.add_parser("submit-followup", help="report the matter of your B reply solved (跟踪答复)")
    followup.add_argument("assignment_id", type=int)
    followup.add_argument("--text", required=True, help="what was done to solve it")
    contact = sub.add_parser("record-contact", help="record a contact with the proposer (办理沟通)")
    contact.add_argument("assignment_id", type=int)
    contact.add_argument("--kind", required=True, help="face_to_face, phone, letter or online (the committee's list)")
    contact.add_argument("--held-on", required=True, dest="held_on", help="the day, YYYY-MM-DD")
    contact.add_argument("--participants", required=True, help="who met whom")
    contact.add_argument("--note")
    extension = sub.add_parser("request-extension", help="ask for more time (延期)")
    extension.add_argument("assignment_id", type=int)
    when = extension.add_mutually_exclusive_group(required=True)
    when.add_argument("--until", help="a date, YYYY-MM-DD")
    when.add_argument("--months", type=int)
    extension.add_argument("--reason", required=True)
    return p


def body_of(args) -> dict:
    body = {"assignment_id": args.assignment_id}
    for key in (
        "reason",
        "text",
        "category",
        "until",
        "months",
        "milestone",
        "note",
        "kind",
        "held_on",
        "participants",
    ):
        if getattr(args, key, None) is not None:
            body[key] = getattr(args, key)
    if getattr(args, "milestones", None):
        body["milestones"] = [dict(zip(("what", "due"), item.rsplit("@", 1), strict=False)) for item in args.milestones]
    return body


def tls(args):
    """TLS options for an amqps:// URI: the broker's certificate is always checked."""
    if not args.amqp.startswith("amqps://"):
        return None
    options = {"cert_reqs": ssl.CERT_REQUIRED}
    if args.ca_file:
        options["ca_certs"] = args.ca_file
    return options


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    user = user_of(args.amqp)
    try:
        with Connection(
            args.amqp, transport_options={"confirm_publish": True}, connect_timeout=5, ssl=tls(args)
        ) as conn:
            if args.command == "listen":
                return listen(conn, args.unit, user, args.auto_sign, args.count, args.timeout)
            send(conn.Producer(serializer="json"), args.unit, args.command.replace("-", "_"), body_of(args), user)
    except Exception as exc:  # a refusal by the broker (ACCESS_REFUSED...): say it plainly
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}, ensure_ascii=False), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
