"""Entrypoints for the bus: ``@job("service.operation")`` and ``@listen(queue)``.

nameko acks a consumed message even when its handler raises, and a message its JSON decoder cannot
read stops the consumer altogether. These entrypoints decide for every message instead:

- ``@job``: a job for this service. The worker's domain changes, its inbox row and its result
  (outbox) commit in one transaction, and the message is acked after that commit. A job already in
  the inbox is acked with no second effect. A :class:`BusinessError` answers ``error`` (the diagram
  may catch it), :class:`InvalidInput` answers ``error`` with code ``invalid_input``, anything else
  answers ``failed`` (the engine retries, then raises an incident).
- ``@listen``: any other queue. A refusal (a ``ZtcError`` with a 4xx status: invalid input, not
  found, forbidden, conflict) dead-letters the message with its reason; any other exception
  requeues it after a pause (the cause, say a database restart, may pass).
- A message that is not a readable job, names an unknown operation, or cannot be decoded is
  dead-lettered with the reason and changes nothing.
"""
from __future__ import annotations

import logging
import time
from functools import partial

import eventlet
from amqp.exceptions import ConnectionError as AmqpConnectionError
from marshmallow import ValidationError
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import Entrypoint, ProviderCollector, SharedExtension
from nameko.messaging import QueueConsumer
from kombu.exceptions import OperationalError as KombuOperationalError
from nameko.rpc import Rpc, RpcConsumer
from sqlalchemy.exc import IntegrityError

from shared import clock, contracts, metrics
from shared.contracts import jobs
from shared.logs import LogContext
from shared.errors import BusinessError, InvalidInput, ZtcError

from .deadletter import DeadLetters
from .topology import RESULTS, engine_results_queue, job_queue

log = logging.getLogger(__name__)
REQUEUE_PAUSE_SECONDS = 1.0


class RobustQueueConsumer(QueueConsumer):
    """nameko's queue consumer, but an undecodable message is dead-lettered, not fatal."""

    dead_letters = DeadLetters()

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            consumer.on_decode_error = partial(self._on_decode_error, provider.queue.name)
        return consumers

    def ack_message(self, message):
        if message.channel.connection:
            ack(message)

    def requeue_message(self, message):
        if message.channel.connection:
            requeue(message)

    def _on_decode_error(self, queue_name, message, exc):
        self.dead_letters.dead_letter(message, f"undecodable message: {type(exc).__name__}: {exc}",
                                      queue_name)


# The connection a message came on can die under us (a broker restart, a network cut) between the
# work and its ack: the socket then raises ConnectionResetError or BrokenPipeError, which nameko 2.14
# does not catch (it catches amqp's ConnectionError only), so the worker's result handler raised and
# killed the whole service. The broker has already taken such a message back and redelivers it
# (our inbox makes the second delivery harmless), so losing the ack or requeue is the right outcome.
_CONNECTION_LOST = (OSError, AmqpConnectionError)


def ack(message) -> bool:
    """Ack ``message``; False if its connection is gone (the broker redelivers it)."""
    try:
        message.ack()
        return True
    except _CONNECTION_LOST as exc:
        log.warning("could not ack a message, its connection is gone (the broker redelivers it): %r", exc)
        return False


def requeue(message) -> bool:
    """Requeue ``message``; False if its connection is gone (the broker has taken it back anyway)."""
    try:
        message.requeue()
        return True
    except _CONNECTION_LOST as exc:
        log.warning("could not requeue a message, its connection is gone (the broker takes it back): %r", exc)
        return False


def _requeue_later(message):
    eventlet.sleep(REQUEUE_PAUSE_SECONDS)
    requeue(message)


class Listen(Entrypoint):
    queue_consumer = RobustQueueConsumer()
    dead_letters = DeadLetters()

    def __init__(self, queue, with_routing_key=False, **kwargs):
        """``with_routing_key``: the handler also gets the message's routing key (for queues where
        the key carries meaning, such as a unit's commands, ``<unit>.<command>``)."""
        self.queue = queue
        self.with_routing_key = with_routing_key
        super().__init__(**kwargs)

    def setup(self):
        self.queue_consumer.register_provider(self)

    def stop(self):
        self.queue_consumer.unregister_provider(self)

    def handle_message(self, body, message):
        args = (body,)
        if self.with_routing_key:
            args = (body, (message.delivery_info or {}).get("routing_key", ""))
        try:
            self.container.spawn_worker(self, args, {}, context_data={},
                                        handle_result=partial(self.handle_result, message))
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        if exc_info is None:
            outcome = "ok"
            self.queue_consumer.ack_message(message)
        elif isinstance(exc_info[1], ZtcError) and exc_info[1].status < 500:
            exc = exc_info[1]
            reason = f"{exc.code}: {exc.message}" + (f": {exc.details}" if exc.details else "")
            outcome = "dead_lettered"
            if not self.dead_letters.dead_letter(message, reason, self.queue.name):
                outcome = "requeued"
                _requeue_later(message)
        else:
            log.error("handling a message from %s failed; requeued: %s", self.queue.name, exc_info[1])
            outcome = "requeued"
            _requeue_later(message)
        metrics.MESSAGES.labels(self.container.service_name, self.queue.name, outcome).inc()
        return result, exc_info


listen = Listen.decorator


class JobDispatcher(SharedExtension, ProviderCollector):
    """Consumes the service's job queue and hands each job to the entrypoint for its operation."""

    queue_consumer = RobustQueueConsumer()
    dead_letters = DeadLetters()

    def setup(self):
        self.queue = job_queue(self.container.service_name)
        self.queue_consumer.register_provider(self)

    def stop(self):
        self.queue_consumer.unregister_provider(self)
        super().stop()

    def handle_message(self, body, message):
        try:
            job = contracts.JobSchema().load(body if isinstance(body, dict) else {})
            if not isinstance(body, dict):
                raise ValidationError({"_schema": ["a job must be a JSON object"]})
        except ValidationError as exc:
            self.dead_letters.dead_letter(message, f"malformed job: {exc.messages}", self.queue.name)
            return
        handlers = [p for p in self._providers if p.operation == job["operation"]]
        if not handlers:
            self.dead_letters.dead_letter(
                message, f"unknown operation '{job['operation']}' for service "
                         f"'{self.container.service_name}'", self.queue.name)
            return
        handlers[0].handle_job(job, message)


class JobEntrypoint(Entrypoint):
    dispatcher = JobDispatcher()

    def __init__(self, operation, **kwargs):
        if jobs.get(operation) is None:
            # A diagram can only name what the contracts declare: an operation missing there could
            # never be deployed, so declaring its handler is a mistake caught at import.
            raise ValueError(f"@job({operation!r}): the operation is not declared in shared/contracts/jobs")
        self.operation = operation
        super().__init__(**kwargs)

    def setup(self):
        self.dispatcher.register_provider(self)

    def stop(self):
        self.dispatcher.unregister_provider(self)

    @property
    def database(self):
        from .database import Database

        for dependency in self.container.dependencies:
            if isinstance(dependency, Database):
                return dependency
        raise RuntimeError(f"service {self.container.service_name} has @job entrypoints but no Database")

    def handle_job(self, job, message):
        db = self.database
        try:
            with db.sessions() as s:
                seen = s.get(db.Inbox, job["job_id"]) if db.Inbox is not None else None
        except Exception as exc:
            log.error("inbox check for job %s failed; requeued: %s", job["job_id"], exc)
            _requeue_later(message)
            return
        if seen is not None:
            # Done before: its result was committed with it and the relay sends it. No second effect.
            log.info("job %s (%s) was done before; acked without running", job["job_id"], self.operation)
            ack(message)
            return
        context = {"job_id": job["job_id"], "instance_id": job["instance_id"],
                   "business_key": job.get("business_key")}
        try:
            self.container.spawn_worker(
                self, (job["params"], job.get("principal")), {}, context_data=context,
                handle_result=partial(self.handle_result, message, job, started=time.monotonic()))
        except ContainerBeingKilled:
            requeue(message)

    def _result(self, job, status, result=None, error=None):
        return contracts.JobResultSchema().dump({
            "job_id": job["job_id"], "instance_id": job["instance_id"], "task_id": job["task_id"],
            "operation": job["operation"], "attempt": job["attempt"], "status": status,
            "result": result, "error": error, "service": self.container.service_name,
        })

    def handle_result(self, message, job, worker_ctx, result=None, exc_info=None, started=None):
        db = self.database
        uow = getattr(worker_ctx, "ztc_uow", None)
        exc = exc_info[1] if exc_info else None
        if exc is None:
            outcome = ("ok", self._result(job, "ok", result=result))
        elif isinstance(exc, BusinessError):
            outcome = ("error", self._result(job, "error", error={"code": exc.code, "message": exc.message}))
        elif isinstance(exc, InvalidInput):
            outcome = ("error", self._result(job, "error", error={
                "code": "invalid_input", "message": f"{exc.message}: {exc.details}"}))
        else:
            outcome = ("failed", self._result(job, "failed", error={
                "code": type(exc).__name__, "message": str(exc) or type(exc).__name__}))
        status, payload = outcome
        metrics.JOBS.labels(self.container.service_name, self.operation, status).inc()
        if started is not None:
            metrics.JOB_SECONDS.labels(self.container.service_name, self.operation).observe(
                time.monotonic() - started)
        try:
            if status == "ok" and uow is not None:
                session = uow.session  # the worker's own transaction: effects, inbox, result at once
            else:
                if uow is not None:
                    uow.rollback()     # a failed or refused job leaves no effect behind
                session = db.sessions()
            self._record(db, session, job, status, payload)
            session.commit()
            if session is not getattr(uow, "_session", None):
                session.close()
        except IntegrityError:
            # Another delivery of the same job committed first: this one has no effect.
            log.info("job %s committed by another delivery; acked", job["job_id"])
            ack(message)
            return result, exc_info
        except Exception as err:
            log.error("could not record job %s (%s); requeued: %s", job["job_id"], self.operation, err)
            _requeue_later(message)
            return result, exc_info
        db.wake()
        ack(message)
        return result, exc_info

    def _record(self, db, session, job, status, payload):
        now = clock.now()
        if status != "failed":
            session.add(db.Inbox(job_id=job["job_id"], operation=job["operation"], status=status,
                                 result=payload, processed_at=now))
        session.add(db.Outbox(exchange=RESULTS.name, routing_key=contracts.RESULT_ROUTING_KEY,
                              payload=payload, headers={}, available_at=now, created_at=now, attempts=0))
        session.flush()


job = JobEntrypoint.decorator

class RobustRpcConsumer(RpcConsumer):
    """nameko's RPC consumer, but a reply that cannot be sent because the broker went away (a
    restart) no longer kills the service: the work is done and committed, the caller's reply queue
    is gone with the broker anyway, and the caller's client sees a lost call (the gateway answers
    it with an error; an Idempotency-Key makes a retry safe)."""

    queue_consumer = RobustQueueConsumer()

    def handle_result(self, message, result, exc_info):
        try:
            return super().handle_result(message, result, exc_info)
        except _CONNECTION_LOST + (KombuOperationalError,) as exc:
            log.warning("could not send an RPC reply, the broker went away: %r", exc)
            self.queue_consumer.ack_message(message)
            return result, exc_info


class Api(Rpc):
    rpc_consumer = RobustRpcConsumer()


# RPC for commands and queries: refusals (not found, forbidden, invalid input...) are answers to
# the caller, not failures of the service, so nameko does not log them as errors.
api = Api.decorator(expected_exceptions=ZtcError)



class Pingable:
    """Mixed into every service: ``ping`` answers once the service consumes its RPC queue, which is
    how the gateway's readiness check and the launcher know the service is up. Every service
    also serves its metrics (when a port is configured) and binds its workers' ids for the logs."""

    metrics_exporter = metrics.MetricsExporter()
    log_context = LogContext()

    @api
    def ping(self):
        return {"service": self.name, "status": "ok"}


__all__ = ["api", "job", "listen", "Pingable", "engine_results_queue"]
