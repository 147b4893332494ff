"""Structured logs and the metrics' settings, without a broker."""

from __future__ import annotations

import io
import json
import logging

import eventlet
import pytest
from prometheus_client import generate_latest

from shared import config, logs, metrics


def _logger(fmt):
    stream = io.StringIO()
    settings = config.load({"ZTC_LOG_FORMAT": fmt})
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    logs.configure("engine", settings, stream=stream)
    return stream, saved


def _restore(saved):
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    logs.clear()


def test_json_lines_carry_the_service_and_the_ids_bound_for_the_worker():
    stream, saved = _logger("json")
    try:
        logs.bind(instance_id="inst-1", job_id="job-9", business_key="2026-001")
        logging.getLogger("services.engine").info("job %s: %s", "job-9", "completed")
        logs.clear()
        logging.getLogger("services.engine").warning("no context")
    finally:
        _restore(saved)
    first, second = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert first["message"] == "job job-9: completed" and first["service"] == "engine"
    assert (first["instance_id"], first["job_id"], first["business_key"]) == ("inst-1", "job-9", "2026-001")
    assert second["level"] == "WARNING" and "instance_id" not in second


def test_text_lines_append_the_ids_and_each_greenlet_has_its_own():
    stream, saved = _logger("text")
    try:

        def worker(n):
            logs.bind(job_id=f"job-{n}")
            eventlet.sleep(0)
            logging.getLogger("w").info("working")

        pool = eventlet.GreenPool()
        for n in range(3):
            pool.spawn(worker, n)
        pool.waitall()
    finally:
        _restore(saved)
    lines = stream.getvalue().splitlines()
    assert sorted(line.rsplit("[", 1)[1] for line in lines) == ["job_id=job-0]", "job_id=job-1]", "job_id=job-2]"]
    assert all(" engine INFO w: working" in line for line in lines)


def test_a_value_a_client_sent_cannot_start_a_text_line_of_its_own():
    stream, saved = _logger("text")
    try:
        forged = "ZZ\n2026-12-03 10:29:00,000 gateway ERROR services.gateway.http: FORGED\r\x00\u2028"
        logging.getLogger("w").info("there is no proposal %s 提案", forged)
        try:
            raise KeyError("x")
        except KeyError:
            logging.getLogger("w").exception("failed")
    finally:
        _restore(saved)
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith(
        "there is no proposal ZZ\\n2026-12-03 10:29:00,000 gateway ERROR services.gateway.http: "
        "FORGED\\r\\x00\\u2028 提案"
    )
    assert (
        lines[1].endswith("w: failed") and lines[2] == "Traceback (most recent call last):"
    )  # tracebacks keep their lines


def test_metrics_ports_come_from_a_base_or_per_service_and_are_off_by_default():
    assert config.load({}).metrics_port("engine") is None
    settings = config.load({"ZTC_METRICS_PORT_BASE": "9300", "ZTC_METRICS_PORT_INTAKE": "9999"})
    assert [settings.metrics_port(s) for s in config.SERVICES] == [9300, 9999, 9302, 9303, 9304, 9305]


def test_a_service_registry_serves_the_counters_and_survives_a_database_that_is_away():
    metrics.JOBS.labels("intake", "intake.register", "ok").inc()

    class Away:
        sessions = object()

        class relay:
            @staticmethod
            def pending():
                raise ConnectionError("database restarting")

    text = generate_latest(metrics.registry_for("intake", Away())).decode()
    assert (
        'ztc_jobs_total{operation="intake.register",outcome="ok",service="intake"}' in text
        or 'ztc_jobs_total{service="intake",operation="intake.register",outcome="ok"}' in text
    )


def test_spiffworkflow_s_task_states_are_logged_only_at_debug():
    for level, written in (("INFO", False), ("DEBUG", True)):
        stream = io.StringIO()
        root = logging.getLogger()
        saved = (list(root.handlers), root.level)
        logs.configure("engine", config.load({"ZTC_LOG_LEVEL": level}), stream=stream)
        try:
            logging.getLogger("spiff.task").info("State changed to READY")
            logging.getLogger("spiff.task").warning("a library warning")
            logging.getLogger("services.engine").info("ours")
        finally:
            _restore(saved)
            for name in logs.LIBRARY_CHATTER:
                logging.getLogger(name).setLevel(logging.NOTSET)
        text = stream.getvalue()
        assert ("State changed to READY" in text) is written, level
        assert "a library warning" in text and "ours" in text


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_an_expected_refusal_is_one_line_and_its_traceback_only_in_debug(level):
    """nameko logs each refusal an entrypoint expects (NotFound: a 404) as a warning with its
    traceback; in a service's log it is one INFO line unless ZTC_LOG_LEVEL=DEBUG."""
    from shared.errors import NotFound

    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    logs.configure("intake", config.load({"ZTC_LOG_LEVEL": level}), stream=stream)
    try:
        containers = logging.getLogger("nameko.containers")
        try:
            raise NotFound("no proposal 2026-0099")
        except NotFound as exc:
            containers.warning("(expected) error handling worker %s: %s", "<worker>", exc, exc_info=True)
            containers.error("error handling worker %s: %s", "<worker>", exc, exc_info=True)  # not expected
    finally:
        _restore(saved)
    lines = stream.getvalue().splitlines()
    expected = [line for line in lines if "(expected) error handling worker" in line]
    assert len(expected) == 1 and "no proposal 2026-0099" in expected[0]
    assert ("INFO" in expected[0]) is (level == "INFO")
    # The traceback of the unexpected error is always there; of the expected one only in DEBUG.
    assert sum("Traceback" in line for line in lines) == (1 if level == "INFO" else 2)


def test_a_listened_queue_expects_refusals_and_nothing_else():
    """A message a ``@listen`` handler refuses (a unit's bad command: invalid input, another unit's
    assignment, a closed one) is logged as nameko's "(expected)" line, which the service's log keeps
    as one INFO line; a failure (a database down, a bug) keeps its ERROR and traceback."""
    from kombu import Queue
    from marshmallow import ValidationError

    from shared.errors import REFUSALS, Conflict, InvalidInput, NotFound, TooLate, ZtcError
    from shared.messaging.entrypoints import listen

    @listen(Queue("ztc.test.expected"), with_routing_key=True)
    def handler(body, routing_key):  # pragma: no cover - never called
        raise AssertionError

    [entrypoint] = handler.nameko_entrypoints
    expected = entrypoint.expected_exceptions
    for refusal in (InvalidInput("x"), NotFound("x"), Conflict("x"), TooLate("x"), ValidationError("x")):
        assert isinstance(refusal, expected), refusal
    for failure in (ZtcError("a 500"), RuntimeError("bug"), OSError("database down")):
        assert not isinstance(failure, expected), failure
    assert all(kind.status < 500 for kind in REFUSALS)


def test_a_job_expects_its_business_errors_and_invalid_input_and_nothing_else():
    """A job that raises a BusinessError (the diagram may catch it) or InvalidInput is answered
    ``error``: nameko logs it as "(expected)", one INFO line in the service's log; a failure (a
    bug, a database down) keeps its ERROR and traceback."""
    from shared.errors import BusinessError, InvalidInput, NotFound
    from shared.messaging.entrypoints import job

    @job("assignment.assign")
    def handler(payload):  # pragma: no cover - never called
        raise AssertionError

    [entrypoint] = handler.nameko_entrypoints
    expected = entrypoint.expected_exceptions
    for answer in (BusinessError("duplicate", "a duplicate"), InvalidInput("x")):
        assert isinstance(answer, expected), answer
    for failure in (RuntimeError("bug"), OSError("database down"), NotFound("x")):
        assert not isinstance(failure, expected), failure
