"""Each service's use of the bus, declared: the queues it consumes (and the keys they are bound
with), whether it consumes its job queue, whether it answers RPC, and whose RPC it calls.

The broker's definitions (``deploy/rabbitmq/definitions.json``) and each service's broker
permissions (:mod:`shared.messaging.access`) are built from here, never from the service classes;
each service's ``@listen`` entrypoints take their queues from here too, and
``tests/contract/test_bus_use.py`` checks every service class against this table (a listener,
job entrypoint or RPC proxy not declared here fails it, naming the service).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .bus import (
    ASSIGNMENT_INPUT_SENT,
    ASSIGNMENT_MILESTONE_DONE,
    ASSIGNMENT_SIGNED,
    DEADLINE_EXTENDED,
    ENGINE_MESSAGES_QUEUE,
    ENGINE_RESULTS_QUEUE,
    ENGINE_STARTS_QUEUE,
    EVENTS_EXCHANGE,
    MESSAGE_ROUTING_KEY,
    MESSAGES_EXCHANGE,
    NOTIFY_PREFIX,
    OPINION_SUBMISSIONS_QUEUE,
    OPINION_SUBMIT_ROUTING_KEY,
    PROCESS_CANCELLED,
    RESULT_ROUTING_KEY,
    RESULTS_EXCHANGE,
    START_ROUTING_KEY,
    UNIT_COMMANDS_EXCHANGE,
    UNIT_COMMANDS_QUEUE,
    events_queue,
)

# -- the domain events each service hears (routing keys on ztc.events; "#" patterns allowed) ------
# The assignment service's events about a proposal's handling that intake turns into the proposal's
# status and its proposers' notices (services/intake/progress.py).
RATING_OPENED = "handling.rating_opened"
APPEAL_DECIDED = "handling.appeal_decided"
INTAKE_HEARS = (
    "handling.assigned",
    "handling.reply_submitted",
    "handling.sent_back",
    RATING_OPENED,
    "handling.rated",
    "handling.rehandling",
    "handling.followup_received",
    "handling.milestone_done",
    "handling.appealed",
    APPEAL_DECIDED,
    PROCESS_CANCELLED,
)
# A deadline moved on an approved extension; rating opened (the units are told the reply was accepted);
# the committee decided an appeal (the answering units are told).
# An operator cancelled a process instance (every service that keeps something open for one hears it:
# intake the proposal's or opinion item's status, assignment the assignments and the micro-consultation
# case, supervision the deadlines, evaluation the rating round).
ASSIGNMENT_HEARS = (DEADLINE_EXTENDED, RATING_OPENED, APPEAL_DECIDED, PROCESS_CANCELLED)
# The units' facts that fulfil a supervision deadline (services/supervision/unit_facts.py).
# And the reply submitted and sent back: it awaits staff's review meanwhile (services/supervision/reply_review.py).
SUPERVISION_HEARS = (
    ASSIGNMENT_INPUT_SENT,
    ASSIGNMENT_MILESTONE_DONE,
    ASSIGNMENT_SIGNED,
    "handling.reply_submitted",
    "handling.sent_back",
    PROCESS_CANCELLED,
)
# Everything that earns or costs a member points (services/evaluation/points/).
EVALUATION_HEARS = ("proposal.#", "opinion.#", "consultation.#", "attendance.#", PROCESS_CANCELLED)
# Notifications for people, delivered by the gateway: notify.<kind>, and the domain events that
# carry the notices of their change (EventSchema.notices) instead of a notify.<kind> beside them.
NOTICES_RIDE_ON = ("proposal.filed",)
GATEWAY_HEARS = (NOTIFY_PREFIX + "#", *NOTICES_RIDE_ON)


@dataclass(frozen=True)
class Listened:
    """A durable queue a service consumes with ``@listen``, bound to ``exchange`` with each key."""

    queue: str
    exchange: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class BusUse:
    listens: tuple[Listened, ...] = ()
    jobs: bool = False  # consumes ztc.jobs.<service> (its job operations)
    rpc_server: bool = False  # answers RPC on rpc-<service>
    rpc_targets: tuple[str, ...] = ()  # the services whose RPC it calls

    def listened(self, queue: str) -> Listened:
        for item in self.listens:
            if item.queue == queue:
                return item
        raise KeyError(queue)


def hears(service: str, keys: Iterable[str]) -> Listened:
    """``service``'s queue of domain events (``ztc.events.<service>``), bound with ``keys``."""
    return Listened(events_queue(service), EVENTS_EXCHANGE, tuple(keys))


BUS_USE: dict[str, BusUse] = {
    "engine": BusUse(
        listens=(
            Listened(ENGINE_RESULTS_QUEUE, RESULTS_EXCHANGE, (RESULT_ROUTING_KEY,)),
            Listened(ENGINE_MESSAGES_QUEUE, MESSAGES_EXCHANGE, (MESSAGE_ROUTING_KEY,)),
            Listened(ENGINE_STARTS_QUEUE, MESSAGES_EXCHANGE, (START_ROUTING_KEY,)),
        ),
        rpc_server=True,
    ),
    "intake": BusUse(
        listens=(
            hears("intake", INTAKE_HEARS),
            Listened(OPINION_SUBMISSIONS_QUEUE, MESSAGES_EXCHANGE, (OPINION_SUBMIT_ROUTING_KEY,)),
        ),
        jobs=True,
        rpc_server=True,
        rpc_targets=("evaluation",),
    ),
    # The departments' commands: every key ("#"), so a bad key is refused with a reason, not dropped.
    "assignment": BusUse(
        listens=(hears("assignment", ASSIGNMENT_HEARS), Listened(UNIT_COMMANDS_QUEUE, UNIT_COMMANDS_EXCHANGE, ("#",))),
        jobs=True,
        rpc_server=True,
        rpc_targets=("evaluation", "intake", "supervision"),
    ),
    "supervision": BusUse(
        listens=(hears("supervision", SUPERVISION_HEARS),), jobs=True, rpc_server=True, rpc_targets=("intake",)
    ),
    "evaluation": BusUse(
        listens=(hears("evaluation", EVALUATION_HEARS),), jobs=True, rpc_server=True, rpc_targets=("supervision",)
    ),
    "gateway": BusUse(
        listens=(hears("gateway", GATEWAY_HEARS),),
        rpc_targets=("assignment", "engine", "evaluation", "intake", "supervision"),
    ),
}
