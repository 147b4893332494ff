"""Entrypoints for the bus: ``@job("service.operation")``, ``@listen(queue)`` and ``@api`` (RPC).

nameko acks a consumed message even when its handler raises, a message its JSON decoder cannot read
stops the consumer altogether, and an exception anywhere between delivery and ack (a reply to an RPC
request without ``reply_to``, say) kills the whole service, which then takes the same message again
when it restarts. These entrypoints decide for every message instead, and no message can end a
service process: every path from delivery to ack, retry or dead letter catches everything and logs it.

- ``@job``: a job for this service. The worker's domain changes, its inbox row and its result
  (outbox) commit in one transaction, and the message is acked after that commit. A job already in
  the inbox is acked with no second effect — except a job that answered ``error`` and was sent again
  with a higher attempt (an operator retried the incident its uncaught business error opened, having
  fixed its cause): it runs again, and its inbox row is replaced in the same commit, at most once per
  retry (see :meth:`JobEntrypoint._record`). A :class:`BusinessError` answers ``error`` (the diagram
  may catch it), :class:`InvalidInput` answers ``error`` with code ``invalid_input``, anything else
  answers ``failed`` (the engine retries, then raises an incident); so does a job whose effects the
  database refuses at commit (a value too long, a constraint broken).
- ``@listen``: any other queue. A refusal (a ``ZtcError`` with a 4xx status: invalid input, not
  found, forbidden, conflict; or a value the database can never hold: numeric overflow, a string too
  long, a lone surrogate) dead-letters the message with its reason at once. Any other failure is
  tried again, a bounded number of times (``ZTC_MESSAGE_MAX_ATTEMPTS``) with a growing pause (a
  database restart may pass), then dead-lettered with the reason and the number of attempts
  (see :mod:`shared.messaging.poison`).
- ``@api``: an RPC request without ``reply_to`` or ``correlation_id``, or whose body is not a nameko
  RPC payload, is dead-lettered with the reason (and answered with an error when it can be).
- A job whose operation no handler of the service takes is answered ``failed`` with the code
  ``unknown_operation`` (the engine opens an incident on its instance at once), not left to wait.
- A message that is not a readable job, cannot be decoded or is larger than
  ``ZTC_MESSAGE_MAX_BYTES`` is dead-lettered with the reason and changes nothing.

Who is acting (docs/security.md): an ``@api`` method with a ``principal`` parameter runs only for a
principal signed with the deployment key (the gateway signs each caller's; see
:mod:`shared.principal`) — an unsigned, badly signed or expired one is answered ``Forbidden`` and
the method does not run; a job runs only if the engine sealed it and the engine sent it; a
``@listen(..., with_sender=True)`` handler gets the broker-validated sender of each message
(:mod:`shared.messaging.identity`).
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Mapping
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import eventlet
from amqp.exceptions import ConnectionError as AmqpConnectionError
from marshmallow import ValidationError
from kombu.exceptions import OperationalError as KombuOperationalError
from kombu.utils import json as kombu_json
from nameko.exceptions import ContainerBeingKilled, MalformedRequest, RpcTimeout, serialize
from nameko.extensions import DependencyProvider, Entrypoint, ProviderCollector, SharedExtension
from nameko.messaging import QueueConsumer
from nameko.rpc import ReplyListener, Responder, Rpc, RpcConsumer, RpcProxy, get_rpc_exchange
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from shared import clock, config, contracts, metrics
from shared import principal as signing
from shared.db import read_pooled
from shared.contracts import jobs
from shared.logs import LogContext
from shared.validation import json_from_outside, unique_keys
from shared.errors import REFUSALS, BusinessError, Forbidden, InvalidInput, ZtcError

from . import identity, outbox, poison
from .database import cancelled_key
from .deadletter import DeadLetters
from .topology import RESULTS, engine_results_queue, job_queue

if TYPE_CHECKING:
    from kombu.entity import Queue
    from sqlalchemy.engine import CursorResult
    from kombu.message import Message
    from kombu.messaging import Consumer
    from kombu.transport.virtual import Channel
    from nameko.containers import ServiceContainer, WorkerContext
    from nameko.extensions import Extension

    from .database import Database, WorkerSession

# A method an entrypoint decorates (nameko's decorators return it as it is).
Handler = TypeVar("Handler", bound=Callable[..., Any])

# What nameko hands a worker's result handler when the worker raised.
ExcInfo = tuple[type[BaseException], BaseException, TracebackType]

log = logging.getLogger(__name__)

# The error code of a job answered ``failed`` because no handler of the service takes its operation.
UNKNOWN_OPERATION = "unknown_operation"
REFUSED_JOB = "refused_job"  # a job the engine sent that the service could not take (seal, form)
# A job whose instance's cancellation this service heard before the job came: answered, not run.
PROCESS_CANCELLED_CODE = "process_cancelled"

# Made once: a job is loaded and a result dumped per message, and making the schema cost more
# than either (a schema keeps nothing of a load or a dump).
_JOB = contracts.JobSchema()
# Which job a refused one was (to answer it failed): what the engine matches a result by.
_JOB_IDENTITY = contracts.JobSchema(only=("job_id", "instance_id", "task_id", "operation", "attempt"))
_JOB_RESULT = contracts.JobResultSchema()


def _settings(container: ServiceContainer) -> config.Settings:
    settings: config.Settings = container.config.get("ZTC_SETTINGS") or config.load()
    return settings


def own_user(container: ServiceContainer) -> str:
    """The broker user this service connects as."""
    return identity.user_of(container.config["AMQP_URI"])


def sender_of(container: ServiceContainer, message: Message) -> identity.Sender:
    """Who sent ``message`` to this service, as the broker vouches for it."""
    return identity.sender_of(message, _settings(container), container.service_name, own_user(container))


def message_ids(message: Message) -> dict[str, str | None]:
    """The AMQP ``correlation_id`` and ``message_id`` of ``message``, as strings or None."""
    properties = message.properties if isinstance(getattr(message, "properties", None), dict) else {}
    ids: dict[str, str | None] = {}
    for name in ("correlation_id", "message_id"):
        value = properties.get(name)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        ids[name] = str(value)[:200] if value not in (None, "") else None
    return ids


class NotJson(ValueError):
    """A message whose content type is not JSON, or that has none (kombu then calls it
    ``application/data``): bytes nobody said how to read."""


def decode(message: Message) -> Any:
    """A consumed message's body: JSON (``application/json``), read with a refusal of a key given
    twice in one object (:func:`shared.validation.unique_keys`) and kombu's own special types.
    Any other content type, or none, is refused saying what to send (a body that is JSON but
    sent without saying so used to be refused as "not a JSON object", which it was)."""
    content_type = message.content_type or ""
    if content_type != "application/json":
        sent = (
            f"its content type is {content_type}"
            if content_type not in ("", "application/data")
            else "it has no content type"
        )
        raise NotJson(f"{sent}: publish it as application/json")
    return kombu_json.loads(message.body, _loads=_strict_loads)


def _strict_loads(text: str, object_hook: Callable[[dict[str, Any]], Any]) -> Any:
    return json_from_outside(text, lambda pairs: object_hook(unique_keys(pairs)))


class RobustQueueConsumer(QueueConsumer):  # type: ignore[misc]  # nameko ships no types
    """nameko's queue consumer, but a message too large or undecodable is dead-lettered, not fatal,
    and nothing a message does escapes into the consumer's thread (which would end the service)."""

    dead_letters = DeadLetters()

    def get_consumers(self, consumer_cls: type[Consumer], channel: Channel) -> list[Consumer]:
        consumers: list[Consumer] = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            consumer.on_decode_error = partial(self._on_decode_error, provider.queue.name)
            consumer.on_message = partial(self._on_message, provider)
        return consumers

    def _on_message(self, provider: Extension, message: Message) -> None:
        """kombu hands us the raw message (we decode it ourselves, so its size is checked first)."""
        queue_name = provider.queue.name
        try:
            limit = _settings(self.container).message_max_bytes
            size = len(message.body or b"")
            if limit and size > limit:
                self._dead_letter_or_hold(
                    message,
                    f"too large: {size} bytes, more than the {limit} allowed (ZTC_MESSAGE_MAX_BYTES)",
                    queue_name,
                    poison.TOO_LARGE,
                )
                return
            try:
                body = decode(message)
            except Exception as exc:  # not JSON, a content type we do not accept...
                self._on_decode_error(queue_name, message, exc)
                return
            self.handle_message(provider, body, message)
        except Exception:
            log.exception("a message from %s could not be handed over; it is given back", queue_name)
            self._hold(message)

    def ack_message(self, message: Message) -> None:
        if message.channel.connection:
            ack(message)

    def requeue_message(self, message: Message) -> None:
        if message.channel.connection:
            requeue(message)

    def _on_decode_error(self, queue_name: str, message: Message, exc: BaseException) -> None:
        try:
            self._dead_letter_or_hold(
                message, f"undecodable message: {type(exc).__name__}: {exc}", queue_name, poison.UNDECODABLE
            )
        except Exception:
            log.exception("an undecodable message from %s could not be dead-lettered", queue_name)

    def _dead_letter_or_hold(self, message: Message, reason: str, queue_name: str, kind: str) -> None:
        if not self.dead_letters.dead_letter(message, reason, queue_name, kind):
            self._hold(message)

    def _hold(self, message: Message) -> None:
        """Give ``message`` back after a pause (in a thread of its own: this is the consumer's)."""
        try:
            eventlet.spawn_n(_requeue_later, message, _settings(self.container).message_retry_pause_max_seconds)
        except Exception:
            log.exception("could not schedule giving a message back")


# The connection a message came on can die under us (a broker restart, a network cut) between the
# work and its ack: the socket then raises ConnectionResetError or BrokenPipeError, which nameko 2.14
# does not catch (it catches amqp's ConnectionError only), so the worker's result handler raised and
# killed the whole service. The broker has already taken such a message back and redelivers it
# (our inbox makes the second delivery harmless), so losing the ack or requeue is the right outcome.
_CONNECTION_LOST = (OSError, AmqpConnectionError)


def ack(message: Message) -> bool:
    """Ack ``message``; False if its connection is gone (the broker redelivers it)."""
    try:
        message.ack()
        return True
    except _CONNECTION_LOST as exc:
        log.warning("could not ack a message, its connection is gone (the broker redelivers it): %r", exc)
        return False


def requeue(message: Message) -> bool:
    """Requeue ``message``; False if its connection is gone (the broker has taken it back anyway)."""
    try:
        message.requeue()
        return True
    except _CONNECTION_LOST as exc:
        log.warning("could not requeue a message, its connection is gone (the broker takes it back): %r", exc)
        return False


def _requeue_later(message: Message, pause: float) -> None:
    try:
        eventlet.sleep(pause)
        if message.channel.connection:
            requeue(message)
    except Exception:  # the channel closed meanwhile: the broker has it back
        log.exception("could not give a message back")


def settle_failure(
    container: ServiceContainer, dead_letters: DeadLetters, message: Message, queue_name: str, exc: BaseException
) -> str:
    """A message whose handling raised ``exc``: dead-letter a refusal at once; give any other failure
    another attempt (after a pause, sent back to the tail of its queue with its attempts counted) until
    ``message_max_attempts``, then dead-letter it with the reason and the attempts. Returns the
    outcome (dead_lettered, retried, requeued) for the metrics. The pause holds the message
    unacknowledged: if the process dies meanwhile the broker gives it to another consumer."""
    settings = _settings(container)
    verdict = poison.classify(exc)
    attempt = poison.attempt_of(message.headers)
    first, longest = settings.message_retry_pause_seconds, settings.message_retry_pause_max_seconds
    if poison.decide(verdict, attempt, settings.message_max_attempts) == poison.DEAD_LETTER:
        kind, reason = poison.dead_reason(verdict, attempt)
        if dead_letters.dead_letter(message, reason, queue_name, kind, attempt):
            return "dead_lettered"
        _requeue_later(message, poison.retry_pause(attempt, first, longest))  # the broker is away
        return "requeued"
    pause = poison.retry_pause(attempt, first, longest)
    log.warning(
        "a message from %s failed (attempt %d of %d), trying again in %.1fs: %s",
        queue_name,
        attempt,
        settings.message_max_attempts,
        pause,
        verdict.reason,
    )
    eventlet.sleep(pause)
    if not message.channel.connection:  # its connection went meanwhile: the broker has it back
        return "requeued"
    if dead_letters.send_back(message, queue_name, attempt):
        return "retried"
    requeue(message)  # the broker refused the copy: give this one back, uncounted
    return "requeued"


def _settle_quietly(
    container: ServiceContainer, dead_letters: DeadLetters, message: Message, queue_name: str, exc: BaseException
) -> str:
    try:
        return settle_failure(container, dead_letters, message, queue_name, exc)
    except Exception:
        log.exception("could not settle a failed message from %s; it is given back", queue_name)
        try:
            if message.channel.connection:
                requeue(message)
        except Exception:
            pass
        return "requeued"


class Listen(Entrypoint):  # type: ignore[misc]  # nameko ships no types
    queue_consumer = RobustQueueConsumer()
    dead_letters = DeadLetters()

    def __init__(
        self,
        queue: Queue,
        with_routing_key: bool = False,
        with_sender: bool = False,
        with_ids: bool = False,
        **kwargs: Any,
    ) -> None:
        """``with_routing_key``: the handler also gets the message's routing key (for queues where
        the key carries meaning, such as a unit's commands, ``<unit>.<command>``).
        ``with_sender``: the handler also gets ``sender=``, the :class:`~shared.messaging.identity.Sender`
        the broker vouches for (its AMQP ``user_id``), never anything the body says.
        ``with_ids``: the handler also gets ``ids=``, the message's AMQP ``correlation_id`` and
        ``message_id`` (None when absent), so an answer can name what it answers."""
        self.queue = queue
        self.with_routing_key = with_routing_key
        self.with_sender = with_sender
        self.with_ids = with_ids
        super().__init__(**kwargs)

    def setup(self) -> None:
        self.queue_consumer.register_provider(self)

    def stop(self) -> None:
        self.queue_consumer.unregister_provider(self)

    def handle_message(self, body: Any, message: Message) -> None:
        try:
            args: tuple[object, ...] = (body,)
            if self.with_routing_key:
                args = (body, poison.origin(message)[1])
            kwargs: dict[str, object] = {"sender": sender_of(self.container, message)} if self.with_sender else {}
            if self.with_ids:
                kwargs["ids"] = message_ids(message)
            self.container.spawn_worker(
                self, args, kwargs, context_data={}, handle_result=partial(self.handle_result, message)
            )
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)
        except Exception as exc:
            log.exception("a message from %s could not be handed to a worker", self.queue.name)
            self._count(_settle_quietly(self.container, self.dead_letters, message, self.queue.name, exc))

    def handle_result(
        self, message: Message, worker_ctx: WorkerContext, result: Any = None, exc_info: ExcInfo | None = None
    ) -> tuple[Any, ExcInfo | None]:
        if exc_info is None:
            outcome = "ok"
            try:
                self.queue_consumer.ack_message(message)
            except Exception:
                log.exception("could not ack a message from %s", self.queue.name)
        else:
            outcome = _settle_quietly(self.container, self.dead_letters, message, self.queue.name, exc_info[1])
        self._count(outcome)
        return result, exc_info

    def _count(self, outcome: str) -> None:
        try:
            metrics.MESSAGES.labels(self.container.service_name, self.queue.name, outcome).inc()
        except Exception:  # never let counting end a worker
            log.exception("could not count a message")


def listen(queue: Queue, **options: bool) -> Callable[[Handler], Handler]:
    """``@listen(queue, with_routing_key=..., with_sender=..., with_ids=...)``: see :class:`Listen`."""
    # A refused message (a unit's bad command, an event that fails its schema) is the service
    # working: logged as one line (shared.logs.ExpectedRefusals), then dead-lettered with its reason.
    decorator: Callable[[Handler], Handler] = Listen.decorator(
        queue, expected_exceptions=(*REFUSALS, ValidationError), **options
    )
    return decorator


class JobDispatcher(SharedExtension, ProviderCollector):  # type: ignore[misc]  # nameko ships no types
    """Consumes the service's job queue and hands each job to the entrypoint for its operation."""

    queue_consumer = RobustQueueConsumer()
    dead_letters = DeadLetters()

    def setup(self) -> None:
        self.queue = job_queue(self.container.service_name)
        self.queue_consumer.register_provider(self)

    def stop(self) -> None:
        self.queue_consumer.unregister_provider(self)
        super().stop()

    def handle_message(self, body: Any, message: Message) -> None:
        try:
            self._dispatch(body, message)
        except Exception as exc:
            log.exception("a message from %s could not be dispatched", self.queue.name)
            _settle_quietly(self.container, self.dead_letters, message, self.queue.name, exc)

    def _dispatch(self, body: Any, message: Message) -> None:
        try:
            if not isinstance(body, dict):
                raise ValidationError({"_schema": [f"a job must be a JSON object, not a JSON {type(body).__name__}"]})
        except ValidationError as exc:
            self._refuse(message, f"malformed job: {exc.messages}")
            return
        # Only the engine sends jobs, sealed with the deployment key: anything else changes nothing.
        sender = sender_of(self.container, message)
        if not sender.is_service("engine"):
            self._refuse(
                message, f"forbidden: a job from {sender.describe()}; only the engine sends jobs", poison.REFUSED
            )
            return
        try:
            sealed = signing.unseal(body, signing.key_of(_settings(self.container)), signing.JOB)
        except signing.BadSignature as exc:
            self._refuse_engines(body, message, f"forbidden: {exc}", poison.REFUSED)
            return
        try:
            job = _JOB.load(sealed)
        except ValidationError as exc:
            self._refuse_engines(sealed, message, f"malformed job: {exc.messages}")
            return
        handlers = [p for p in self._providers if p.operation == job["operation"]]
        if not handlers:
            reason = f"unknown operation '{job['operation']}' for service '{self.container.service_name}'"
            # The instance must not wait for ever: the engine hears that the job failed (and opens an
            # incident at once); only if that answer cannot be recorded is the job dead-lettered.
            if self._answer_failed(job, UNKNOWN_OPERATION, f"{reason}: no handler in the running service"):
                ack(message)
            else:
                self._refuse(message, reason)
            return
        handlers[0].handle_job(job, message)

    def _refuse_engines(
        self, body: dict[str, Any], message: Message, reason: str, kind: str = poison.MALFORMED
    ) -> None:
        """A job the engine sent that this service cannot take (its seal does not match, or it is
        malformed): dead-lettered for the operators, and — where the job still says which it is —
        answered ``failed`` with the code ``refused_job``, so that the engine opens an incident on
        its instance at once instead of it waiting for ever for a result."""
        self._refuse(message, reason, kind)
        try:
            said = _JOB_IDENTITY.load({k: body.get(k) for k in _JOB_IDENTITY.fields})
        except ValidationError:
            return  # nothing says which instance waits: the dead letter is all there is
        self._answer_failed(said, REFUSED_JOB, f"the {self.container.service_name} service refused the job: {reason}")

    def _answer_failed(self, job: dict[str, Any], code: str, message_text: str) -> bool:
        from .database import Database

        db = next((d for d in self.container.dependencies if isinstance(d, Database)), None)
        if db is None or db.Outbox is None:
            return False
        outbox = db.Outbox
        payload = _JOB_RESULT.dump(
            {
                "job_id": job["job_id"],
                "instance_id": job["instance_id"],
                "task_id": job["task_id"],
                "operation": job["operation"],
                "attempt": job["attempt"],
                "status": "failed",
                "result": None,
                "error": {"code": code, "message": message_text},
                "service": self.container.service_name,
            }
        )
        now = clock.now()
        try:
            with db.sessions() as s:
                s.add(
                    outbox(
                        exchange=RESULTS.name,
                        routing_key=contracts.RESULT_ROUTING_KEY,
                        payload=payload,
                        headers={},
                        available_at=now,
                        created_at=now,
                        attempts=0,
                    )
                )
                s.commit()
        except Exception as exc:
            log.error("could not answer job %s (%s): %s", job["job_id"], message_text, exc)
            return False
        log.warning("job %s: %s; answered failed", job["job_id"], message_text)
        db.wake()
        return True

    def _refuse(self, message: Message, reason: str, kind: str = poison.MALFORMED) -> None:
        log.warning("refused a job on %s: %s", self.queue.name, reason)
        if not self.dead_letters.dead_letter(message, reason, self.queue.name, kind):
            _requeue_later(message, _settings(self.container).message_retry_pause_max_seconds)


class JobEntrypoint(Entrypoint):  # type: ignore[misc]  # nameko ships no types
    dispatcher = JobDispatcher()

    def __init__(self, operation: str, **kwargs: Any) -> None:
        if jobs.get(operation) is None:
            # A diagram can only name what the contracts declare: an operation missing there could
            # never be deployed, so declaring its handler is a mistake caught at import.
            raise ValueError(f"@job({operation!r}): the operation is not declared in shared/contracts/jobs")
        self.operation = operation
        # A business error (the diagram may catch it) and invalid input are answers the engine is
        # given, not failures of this service: nameko logs them as "(expected)", which the service's
        # log keeps as one INFO line (shared.logs.ExpectedRefusals). Anything else keeps its traceback.
        kwargs.setdefault("expected_exceptions", (BusinessError, InvalidInput))
        super().__init__(**kwargs)

    def setup(self) -> None:
        self.dispatcher.register_provider(self)

    def stop(self) -> None:
        self.dispatcher.unregister_provider(self)

    @property
    def database(self) -> Database:
        from .database import Database

        for dependency in self.container.dependencies:
            if isinstance(dependency, Database):
                return dependency
        raise RuntimeError(f"service {self.container.service_name} has @job entrypoints but no Database")

    def handle_job(self, job: dict[str, Any], message: Message) -> None:
        queue = self.dispatcher.queue.name
        db = self.database
        try:
            seen, cancelled = _answered(db, job["job_id"], job["instance_id"])
        except Exception as exc:
            log.error("inbox check for job %s failed: %s", job["job_id"], exc)
            _settle_quietly(self.container, self.dispatcher.dead_letters, message, queue, exc)
            return
        if seen is not None and not _retried_after_error(seen, job):
            # Done before: its result was committed with it and the relay sends it. No second effect.
            log.info("job %s (%s) was done before; acked without running", job["job_id"], self.operation)
            ack(message)
            return
        if cancelled is not None:
            self._refuse_cancelled(message, job, cancelled, seen)
            return
        context = {"job_id": job["job_id"], "instance_id": job["instance_id"], "business_key": job.get("business_key")}
        try:
            principal = job.get("principal")
            if isinstance(principal, dict):  # sealed by the engine: this service may pass it on
                principal = signing.Principal(principal)
            self.container.spawn_worker(
                self,
                (job["params"], principal),
                {},
                context_data=context,
                handle_result=partial(self.handle_result, message, job, started=time.monotonic(), seen=seen),
            )
        except ContainerBeingKilled:
            requeue(message)

    def _refuse_cancelled(
        self, message: Message, job: dict[str, Any], cancelled: Answered, seen: Answered | None
    ) -> None:
        """The job's instance was cancelled and this service heard it first (``WorkerSession.
        note_cancelled``): the job was sent before the cancellation and is not run, so it makes no
        record after the service closed the instance's records. It is answered ``error``
        (``process_cancelled``; the engine drops it, the instance being over) and kept in the inbox
        like any answered job, so a redelivery changes nothing either."""
        by = (cancelled.result or {}).get("by") if isinstance(cancelled.result, dict) else None
        error = {
            "code": PROCESS_CANCELLED_CODE,
            "message": f"instance {job['instance_id']} was cancelled (by {by or '?'}) before this job ran; not run",
        }
        log.info("job %s (%s): its instance was cancelled; answered without running", job["job_id"], self.operation)
        metrics.JOBS.labels(self.container.service_name, self.operation, "cancelled").inc()
        db = self.database
        try:
            self._commit(db, None, job, "error", self._result(job, "error", error=error), seen)
        except Exception as exc:
            if self._found_after(db, job) is not None:  # another delivery answered it first
                ack(message)
                return
            _settle_quietly(self.container, self.dispatcher.dead_letters, message, self.dispatcher.queue.name, exc)
            return
        db.wake()
        ack(message)

    def _result(
        self, job: dict[str, Any], status: str, result: Any = None, error: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        dumped: dict[str, Any] = _JOB_RESULT.dump(
            {
                "job_id": job["job_id"],
                "instance_id": job["instance_id"],
                "task_id": job["task_id"],
                "operation": job["operation"],
                "attempt": job["attempt"],
                "status": status,
                "result": result,
                "error": error,
                "service": self.container.service_name,
            }
        )
        return dumped

    def _failed(self, job: dict[str, Any], exc: BaseException) -> dict[str, Any]:
        return self._result(
            job, "failed", error={"code": type(exc).__name__, "message": str(exc) or type(exc).__name__}
        )

    def handle_result(
        self,
        message: Message,
        job: dict[str, Any],
        worker_ctx: WorkerContext,
        result: Any = None,
        exc_info: ExcInfo | None = None,
        started: float | None = None,
        seen: Answered | None = None,
    ) -> tuple[Any, ExcInfo | None]:
        try:
            self._settle(message, job, worker_ctx, result, exc_info, started, seen)
        except Exception as exc:
            log.exception("could not settle job %s (%s)", job.get("job_id"), self.operation)
            _settle_quietly(self.container, self.dispatcher.dead_letters, message, self.dispatcher.queue.name, exc)
        return result, exc_info

    def _settle(
        self,
        message: Message,
        job: dict[str, Any],
        worker_ctx: WorkerContext,
        result: Any,
        exc_info: ExcInfo | None,
        started: float | None,
        seen: Answered | None = None,
    ) -> None:
        db = self.database
        uow = getattr(worker_ctx, "ztc_uow", None)
        exc = exc_info[1] if exc_info else None
        if exc is None:
            status, payload = "ok", self._result(job, "ok", result=result)
        elif isinstance(exc, BusinessError):
            status, payload = "error", self._result(job, "error", error={"code": exc.code, "message": exc.message})
        elif isinstance(exc, InvalidInput):
            status, payload = (
                "error",
                self._result(job, "error", error={"code": "invalid_input", "message": f"{exc.message}: {exc.details}"}),
            )
        else:
            status, payload = "failed", self._failed(job, exc)
        metrics.JOBS.labels(self.container.service_name, self.operation, status).inc()
        if started is not None:
            metrics.JOB_SECONDS.labels(self.container.service_name, self.operation).observe(time.monotonic() - started)
        try:
            self._commit(db, uow, job, status, payload, seen)
        except Exception as err:
            if uow is not None:
                _quietly(uow.rollback)
            found = self._found_after(db, job)
            if found is not None and not _retried_after_error(found, job):
                # Another delivery of the same job committed first: this one has no effect.
                log.info("job %s committed by another delivery; acked", job["job_id"])
                ack(message)
                return
            if found is not None and seen is None and status != "failed":
                # An earlier attempt's error was answered after this retry's check: the retry runs
                # again, and its check then finds the row to replace.
                log.info("job %s: an earlier attempt answered meanwhile; run again", job["job_id"])
                _requeue_later(message, 0)
                return
            verdict = poison.classify(err)
            if verdict.kind == poison.FAILURE or status == "failed":
                # The database is away (or recording a failure failed): another attempt, bounded.
                log.error("could not record job %s (%s): %s", job["job_id"], self.operation, err)
                _settle_quietly(self.container, self.dispatcher.dead_letters, message, self.dispatcher.queue.name, err)
                return
            # The database refuses what the job did (a value too long, a constraint broken): it can
            # never commit, so the engine hears that the job failed (it retries, then raises an incident).
            log.error(
                "job %s (%s): the database refused its effects; answering failed: %s",
                job["job_id"],
                self.operation,
                verdict.reason,
            )
            try:
                self._commit(db, None, job, "failed", self._failed(job, err), seen)
            except Exception as again:
                _settle_quietly(
                    self.container, self.dispatcher.dead_letters, message, self.dispatcher.queue.name, again
                )
                return
        db.wake()
        ack(message)

    def _commit(
        self,
        db: Database,
        uow: WorkerSession | None,
        job: dict[str, Any],
        status: str,
        payload: dict[str, Any],
        seen: Answered | None = None,
    ) -> None:
        if status == "ok" and uow is not None:
            session = uow.session  # the worker's own transaction: effects, inbox, result at once
        else:
            if uow is not None:
                uow.rollback()  # a failed or refused job leaves no effect behind
            session = db.sessions()
        try:
            self._record(db, session, job, status, payload, seen)
            session.commit()
        except Exception:
            _quietly(session.rollback)
            raise
        finally:
            if session is not getattr(uow, "_session", None):
                _quietly(session.close)

    def _found_after(self, db: Database, job: dict[str, Any]) -> Answered | None:
        """The job's inbox row as another delivery may have committed it (none if it cannot be read)."""
        if db.Inbox is None:
            return None
        try:
            return _answered(db, job["job_id"])[0]
        except Exception:
            return None

    def _record(
        self,
        db: Database,
        session: Session,
        job: dict[str, Any],
        status: str,
        payload: dict[str, Any],
        seen: Answered | None = None,
    ) -> None:
        """The job's inbox row (unless it failed) and its result's outbox row, in ``session``'s
        transaction. ``seen`` is the inbox row the check before the job found: none (the usual
        case), and the row is inserted with one prebuilt Core statement, which another delivery's
        committed row makes fail on the primary key (the caller then finds it done before); an
        earlier row is read again in the transaction and replaced only by a retry after an error."""
        now = clock.now()
        session.flush()  # the job's own effects first, as they were written before these rows
        if status != "failed":
            assert db.Inbox is not None, "a service with @job entrypoints keeps an inbox"
            if seen is None:
                _insert_answer(session, db, job, status, payload, now)
            else:
                self._replace_answer(session, db, job, status, payload, now)
        outbox.add(session, db.Outbox, RESULTS.name, contracts.RESULT_ROUTING_KEY, payload)

    def _replace_answer(
        self, session: Session, db: Database, job: dict[str, Any], status: str, payload: dict[str, Any], now: Any
    ) -> None:
        assert db.Inbox is not None
        earlier = session.get(db.Inbox, job["job_id"])
        if earlier is None:
            _insert_answer(session, db, job, status, payload, now)
        elif _retried_after_error(earlier, job):
            # A retry after a business error: the row it answered is replaced, conditionally, so
            # of two deliveries of the retry only one commits (the other finds it done before).
            replaced = cast(
                "CursorResult[Any]",
                session.execute(
                    update(db.Inbox)
                    .where(
                        db.Inbox.job_id == job["job_id"],
                        db.Inbox.status == "error",
                        db.Inbox.processed_at == earlier.processed_at,
                    )
                    .values(status=status, result=payload, processed_at=now)
                    .execution_options(synchronize_session=False)
                ),
            ).rowcount
            if replaced != 1:
                raise AlreadyDone(job["job_id"])
        else:
            raise AlreadyDone(job["job_id"])


def _insert_answer(
    session: Session, db: Database, job: dict[str, Any], status: str, payload: dict[str, Any], now: Any
) -> None:
    """The job's inbox row, by one prebuilt Core insert."""
    assert db.Inbox is not None
    session.execute(
        outbox.insert_of(db.Inbox),
        {
            "job_id": job["job_id"],
            "operation": job["operation"],
            "status": status,
            "result": payload,
            "processed_at": now,
        },
    )


def job(operation: str) -> Callable[[Handler], Handler]:
    """``@job("service.operation")``: the handler of that operation's jobs."""
    decorator: Callable[[Handler], Handler] = JobEntrypoint.decorator(operation)
    return decorator


class Answered(Protocol):
    """An inbox row: what a job answered (each service's model, made by shared.messaging.models)."""

    status: str
    result: dict[str, Any] | None


class AlreadyDone(Exception):
    """Another delivery of the same job (or of the same retry) committed first."""


def _answered(db: Database, job_id: str, instance_id: str | None = None) -> tuple[Answered | None, Answered | None]:
    """The inbox row of ``job_id`` (its status and result), if the job was done, and the row that
    says this service heard ``instance_id``'s cancellation (``database.cancelled_key``), if it did:
    one Core read of both keys on a pooled connection, without a session (it cost a job 1.1 CPU ms
    through the ORM, 0.6 so), its own transaction on PostgreSQL (``shared.db.read_pooled``: no
    BEGIN and ROLLBACK around it)."""
    if db.Inbox is None:
        return None, None
    query = _INBOX_READS.get(db.Inbox)
    if query is None:
        query = _INBOX_READS[db.Inbox] = select(db.Inbox.job_id, db.Inbox.status, db.Inbox.result).where(
            db.Inbox.job_id.in_([bindparam("job_id"), bindparam("cancelled")])
        )
    cancelled = cancelled_key(instance_id) if instance_id else ""
    with read_pooled(db.sessions) as conn:
        rows = {row.job_id: row for row in conn.execute(query, {"job_id": job_id, "cancelled": cancelled})}
    return cast("Answered | None", rows.get(job_id)), cast(
        "Answered | None", rows.get(cancelled) if cancelled else None
    )


_INBOX_READS: dict[type[Any], Any] = {}  # each service's inbox model -> its read of one job's row


def _retried_after_error(row: Answered, job: dict[str, Any]) -> bool:
    """Whether ``job`` is an operator's retry of a job whose inbox ``row`` answered ``error``: a
    business error no boundary event caught, which opened an incident; retried, it must run again
    (its cause may be fixed), where a second delivery of the same attempt must not."""
    answered = (row.result or {}).get("attempt") if isinstance(row.result, dict) else None
    return (
        row.status == "error"
        and isinstance(answered, int)
        and isinstance(job.get("attempt"), int)
        and job["attempt"] > answered
    )


def _quietly(fn: Callable[[], object]) -> None:
    try:
        fn()
    except Exception:
        pass


class RobustRpcConsumer(RpcConsumer):  # type: ignore[misc]  # nameko ships no types
    """nameko's RPC consumer, made safe against any message on ``rpc-<service>``:

    - a request nameko cannot answer (no ``reply_to`` or ``correlation_id``: nameko 2.14 raises a
      KeyError that ends the service, which takes the same request again on restart), or whose body
      is not ``{"args": [...], "kwargs": {...}}``, is dead-lettered with the reason (and answered
      with ``MalformedRequest`` when it can be);
    - a reply that cannot be sent because the broker went away (a restart) no longer kills the
      service: the work is done and committed, the caller's reply queue is gone with the broker
      anyway, and the caller's client sees a lost call (the gateway answers it with an error; an
      Idempotency-Key makes a retry safe); any other failure to reply dead-letters the request."""

    queue_consumer = RobustQueueConsumer()
    dead_letters = DeadLetters()

    def handle_message(self, body: Any, message: Message) -> None:
        try:
            problem = poison.rpc_request_problem(body, message.properties, message.headers)
            if problem is not None:
                self._refuse(message, problem, poison.MALFORMED)
                return
            super().handle_message(body, message)
        except Exception as exc:
            log.exception("an RPC request on %s could not be handled", self.queue.name)
            self._refuse(message, f"could not be handled: {poison.describe_exception(exc)}", poison.REFUSED)

    def _refuse(self, message: Message, reason: str, kind: str) -> None:
        try:
            if poison.rpc_request_problem({"args": [], "kwargs": {}}, message.properties, {}) is None:
                self._answer_malformed(message, reason)
            if not self.dead_letters.dead_letter(message, reason, self.queue.name, kind):
                _requeue_later(message, _settings(self.container).message_retry_pause_max_seconds)
        except Exception:
            log.exception("a refused RPC request on %s could not be dead-lettered", self.queue.name)

    def _answer_malformed(self, message: Message, reason: str) -> None:
        """The caller waits for an answer: tell it the request was malformed (best effort)."""
        try:
            config = self.container.config
            responder = Responder(
                config["AMQP_URI"], get_rpc_exchange(config), config.get("serializer", "json"), message
            )
            responder.send_response(None, (MalformedRequest, MalformedRequest(reason), None))
        except Exception as exc:
            log.warning("could not answer a malformed RPC request on %s: %r", self.queue.name, exc)

    def handle_result(self, message: Message, result: Any, exc_info: ExcInfo | None) -> tuple[Any, ExcInfo | None]:
        try:
            answered: tuple[Any, ExcInfo | None] = super().handle_result(message, result, exc_info)
            return answered
        except _CONNECTION_LOST + (KombuOperationalError,) as exc:
            log.warning("could not send an RPC reply, the broker went away: %r", exc)
            _quietly(lambda: self.queue_consumer.ack_message(message))
        except Exception as exc:
            log.exception("could not send an RPC reply on %s", self.queue.name)
            reason = f"its reply could not be sent: {poison.describe_exception(exc)}"
            if not self.dead_letters.dead_letter(message, reason, self.queue.name, poison.REFUSED):
                _quietly(lambda: self.queue_consumer.ack_message(message))
        return result, exc_info


class RobustReplyListener(ReplyListener):  # type: ignore[misc]  # nameko ships no types
    """The reply queue of a service's RPC proxies: a message on it that is not a nameko reply
    (undecodable, not an object with result or error) is dead-lettered, and a caller waiting for
    it gets an error instead of waiting forever."""

    queue_consumer = RobustQueueConsumer()
    dead_letters = DeadLetters()

    def handle_message(self, body: Any, message: Message) -> None:
        try:
            correlation_id = message.properties.get("correlation_id")
            if (
                isinstance(body, dict)
                and set(body) >= {"result", "error"}
                and (body["error"] is None or isinstance(body["error"], dict))
            ):
                self.queue_consumer.ack_message(message)
                event = self._reply_events.pop(correlation_id, None)
                if event is not None:
                    event.send(body)
                else:
                    log.debug("a reply for an unknown correlation id %r", correlation_id)
                return
            reason = "not a nameko RPC reply: expected an object with result and error"
            event = self._reply_events.pop(correlation_id, None)
            if event is not None:
                event.send({"result": None, "error": serialize(MalformedRequest(reason))})
            if not self.dead_letters.dead_letter(message, reason, self.queue.name, poison.MALFORMED):
                self.queue_consumer.ack_message(message)
        except Exception:
            log.exception("a reply on %s could not be handled; acked", self.queue.name)
            _quietly(lambda: self.queue_consumer.ack_message(message))


class ServiceRpc(RpcProxy):  # type: ignore[misc]  # nameko ships no types
    """``RpcProxy`` whose reply queue survives any message (:class:`RobustReplyListener`), and which
    signs again, with the deployment key, each principal this service verified or took from a
    sealed job (:class:`shared.principal.Principal`) that it passes on: the service it calls checks
    the signature as it checks the gateway's.

    ``timed=True`` (the gateway, where a person waits): a call waits at most
    ``ZTC_RPC_TIMEOUT_SECONDS`` for its reply, then raises nameko's ``RpcTimeout`` (nameko waits
    for ever, and a reply lost with a connection the broker closed never comes)."""

    rpc_reply_listener = RobustReplyListener()

    def __init__(self, target_service: str, timed: bool = False, **options: Any) -> None:
        super().__init__(target_service, **options)
        self.timed = timed

    def setup(self) -> None:
        super().setup()
        settings = _settings(self.container)
        self.key = signing.key_of(settings)
        self.ttl = settings.principal_ttl_seconds
        self.timeout = settings.rpc_timeout_seconds if self.timed else None

    def get_dependency(self, worker_ctx: WorkerContext) -> _SigningProxy:
        return _SigningProxy(super().get_dependency(worker_ctx), self.key, self.ttl, self.timeout)


class _SigningProxy:
    def __init__(self, proxy: Any, key: bytes, ttl: float, timeout: float | None = None) -> None:
        self._proxy, self._key, self._ttl, self._timeout = proxy, key, ttl, timeout

    def __getattr__(self, name: str) -> _SigningMethod:
        return _SigningMethod(getattr(self._proxy, name), self._key, self._ttl, self._timeout)


class _SigningMethod:
    def __init__(self, method: Any, key: bytes, ttl: float, timeout: float | None = None) -> None:
        self._method, self._key, self._ttl, self._timeout = method, key, ttl, timeout

    def _signed(self, value: object) -> object:
        if isinstance(value, signing.Principal):
            return signing.sign(value, self._key, self._ttl)
        return value

    def __call__(self, *args: object, **kwargs: object) -> Any:
        if self._timeout is None:
            return self._method(*map(self._signed, args), **{k: self._signed(v) for k, v in kwargs.items()})
        return wait_for_reply(self._method, self.call_async(*args, **kwargs), self._timeout)

    def call_async(self, *args: object, **kwargs: object) -> Any:
        return self._method.call_async(*map(self._signed, args), **{k: self._signed(v) for k, v in kwargs.items()})

    def wait(self, reply: Any, timeout: float) -> Any:
        """The result of ``reply`` (from :meth:`call_async`), waiting at most ``timeout`` seconds."""
        return wait_for_reply(self._method, reply, timeout)


def wait_for_reply(method: Any, reply: Any, timeout: float) -> Any:
    """The result of ``reply`` (an ``RpcReply`` of ``method``'s call), waiting at most ``timeout``
    seconds; then ``RpcTimeout``, and a reply that comes later is dropped by the reply listener."""
    timer = eventlet.Timeout(timeout)
    try:
        return reply.result()
    except eventlet.Timeout as exc:
        if exc is not timer:  # someone else's
            raise
        events = method.reply_listener._reply_events
        for correlation_id, event in list(events.items()):
            if event is reply.reply_event:
                events.pop(correlation_id, None)
        raise RpcTimeout(f"{method!r} had no reply within {timeout:g}s") from None
    finally:
        timer.cancel()


class Api(Rpc):  # type: ignore[misc]  # nameko ships no types
    """nameko's RPC entrypoint; a method with a ``principal`` parameter runs only for a principal
    signed with the deployment key, which it gets verified (``{user, roles, unit}``). An unsigned,
    badly signed or expired principal is answered ``Forbidden`` and nothing runs."""

    rpc_consumer = RobustRpcConsumer()

    def setup(self) -> None:
        super().setup()
        method = getattr(self.container.service_cls, self.method_name)
        self.signature = inspect.signature(method)
        self.takes_principal = "principal" in self.signature.parameters

    def handle_message(self, body: Any, message: Message) -> None:
        if (
            self.takes_principal
            and isinstance(body, dict)
            and isinstance(body.get("args"), list)
            and isinstance(body.get("kwargs"), dict)
        ):
            self.check_signature(body["args"], body["kwargs"])
            body = self.with_verified_principal(body["args"], body["kwargs"])
        super().handle_message(body, message)

    def with_verified_principal(self, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        bound = self.signature.bind(None, *args, **kwargs)
        given = bound.arguments.get("principal")
        settings = _settings(self.container)
        try:
            bound.arguments["principal"] = signing.verify(given, signing.key_of(settings))
        except signing.BadSignature as exc:
            where = f"{self.container.service_name}.{self.method_name}"
            log.warning("refused an RPC call to %s: %s", where, exc)
            raise Forbidden(
                f"{exc}: {where} acts only for a principal signed by the gateway", {"principal": [str(exc)]}
            ) from None
        return {"args": list(bound.args[1:]), "kwargs": dict(bound.kwargs)}


# RPC for commands and queries: refusals (not found, forbidden, invalid input...) are answers to
# the caller, not failures of the service, so nameko does not log them as errors.
_api = Api.decorator(expected_exceptions=ZtcError)


def api(method: Handler) -> Handler:
    """``@api``: an RPC method of the service (see :class:`Api`)."""
    decorated: Handler = _api(method)
    return decorated


class PrincipalSigner(DependencyProvider):  # type: ignore[misc]  # nameko ships no types
    """``self.sign(principal)``: the principal signed with the deployment key for the RPC calls it
    makes (the gateway signs each HTTP caller's)."""

    def setup(self) -> None:
        settings = _settings(self.container)
        self.key = signing.key_of(settings)
        self.ttl = settings.principal_ttl_seconds

    def get_dependency(self, worker_ctx: WorkerContext) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
        return partial(signing.sign, key=self.key, ttl=self.ttl)


class Pingable:
    """Mixed into every service: ``ping`` answers once the service consumes its RPC queue, which is
    how the gateway's readiness check and the launcher know the service is up. Every service
    also serves its metrics (when a port is configured) and binds its workers' ids for the logs."""

    name: str  # each service class names itself
    metrics_exporter = metrics.MetricsExporter()
    log_context = LogContext()

    @api
    def ping(self) -> dict[str, str]:
        return {"service": self.name, "status": "ok"}


__all__ = [
    "api",
    "job",
    "listen",
    "Pingable",
    "PrincipalSigner",
    "ServiceRpc",
    "engine_results_queue",
    "sender_of",
    "settle_failure",
]
