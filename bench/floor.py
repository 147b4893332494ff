"""The framework's floor: what one message costs the process that handles it, in bare kombu, in
bare nameko, and in Zhitongche's services.

Every message a service consumes or sends passes through nameko and kombu, on which the platform
is built. This measures, in one run on one broker, the CPU that the *handling* process spends per
message (``/proc``; not the caller's, not the broker's):

RPC calls (the request consumed, the handler run, the reply published with confirms, the request
acknowledged):

* ``bare kombu``        - a kombu consumer that answers each request as nameko's RPC protocol
  expects, and nothing else: the floor under any Python service on kombu.
* ``bare nameko``       - a nameko service with one ``@rpc`` method that returns a small dict (a
  worker green thread per call, its context, the reply publisher).
* ``ZTC <service>``     - the same call, ``ping``, answered by a Zhitongche service of a whole
  system (``bench/harness.py``: all six processes, on SQLite): the platform's RPC entrypoint and
  its dependency providers (database session, rules, metrics, log context, ...), with no domain
  work and no database statement in the call itself.

Events (consumed and acknowledged; nothing answered): ``bare kombu event``, ``bare nameko event``
(an ``@event_handler``).

HTTP GETs (the gateway's side of a person's request):

* ``bare nameko /health``, ``ZTC gateway /health`` - a small JSON answer, no token, no RPC;
* ``ZTC gateway /api/me`` - the same with a token checked (the per-request cost of signing in);
* ``bare nameko /ready``, ``ZTC gateway /ready`` - five RPC calls made before answering (the
  gateway asks its five services; the bare service asks the bare kombu responder five times):
  the caller's side of an RPC call.

The callers are green threads in this process (``--concurrency`` in flight). Variants are
alternated round by round (``--rounds``); the median is printed beside its ratio to the bare
variant doing the same in the same round, since machines are shared and noisy. Every answer is
checked (and every event counted); the script exits non-zero if one is wrong or missing. /proc
counts CPU in clock ticks (10 ms): use enough calls (the default, 2,000) for the figures to mean
anything.

    .venv/bin/python bench/floor.py                               # intake and the engine
    .venv/bin/python bench/floor.py --services intake assignment --calls 500 --rounds 3 --json floor.json

It needs RabbitMQ with its management API (a throwaway vhost), as the tests do.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared import quiet  # noqa: E402

quiet.eventlet_deprecation()  # before eventlet is imported: its deprecation warning says nothing here

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from contextlib import ExitStack  # noqa: E402

from harness import System, Target, cpu_seconds  # noqa: E402

SERVICES = ("engine", "intake", "assignment", "supervision", "evaluation")

KOMBU = "floor_kombu"  # the bare kombu responder's "service" name (its queue binds like nameko's)
NAMEKO = "floor_nameko"
SOURCE = "floor_source"  # the events' sender, as nameko names an event's exchange ("floor_source.events")


# -- the two bare responders, each run as its own process (--serve) --------------------------------


def serve_kombu(uri: str, prefetch: int) -> None:
    """Answer ``floor_kombu.ping`` as nameko's RPC protocol expects, with plain kombu."""
    from kombu import Exchange, Queue
    from nameko.standalone.events import get_event_exchange

    from shared.messaging.topology import connect

    exchange = Exchange("nameko-rpc", type="topic", durable=True)
    queue = Queue(f"rpc-{KOMBU}", exchange, routing_key=f"{KOMBU}.*", durable=True)
    events = Queue(f"evt-{SOURCE}-{KOMBU}", get_event_exchange(SOURCE, {}), routing_key=f"tick.{KOMBU}", durable=True)
    answer = {"result": {"service": KOMBU, "status": "ok"}, "error": None}
    ticks = [0]
    with connect(uri) as conn, connect(uri) as out:  # replies on a connection of their own, as nameko's
        producer = out.Producer(serializer="json")

        def on_event(body, message):
            ticks[0] += 1
            message.ack()

        def on_request(body, message):
            asked = message.delivery_info["routing_key"]
            producer.publish(
                {"result": ticks[0], "error": None} if asked.endswith(".ticks") else answer,
                exchange=exchange,
                routing_key=message.properties["reply_to"],
                correlation_id=message.properties["correlation_id"],
                delivery_mode=2,
                retry=False,
            )
            message.ack()

        with (
            conn.Consumer(queue, callbacks=[on_request], prefetch_count=prefetch),
            conn.Consumer(events, callbacks=[on_event], prefetch_count=prefetch),
        ):
            print("ready", flush=True)
            while True:
                conn.drain_events()


def serve_nameko(uri: str, prefetch: int, port: int) -> None:
    """A nameko service with one RPC method, and two HTTP routes: one that answers a small JSON
    document, one that asks the bare kombu responder five times over RPC first (as the gateway's
    ``/ready`` asks its five services)."""
    from nameko.events import event_handler
    from nameko.rpc import RpcProxy, rpc
    from nameko.runners import ServiceRunner
    from nameko.web.handlers import http
    from werkzeug.wrappers import Response

    def answer(document):
        return Response(json.dumps(document), status=200, mimetype="application/json")

    class Floor:
        name = NAMEKO
        responder = RpcProxy(KOMBU)
        seen = 0

        @rpc
        def ping(self):
            return {"service": NAMEKO, "status": "ok"}

        @event_handler(SOURCE, f"tick.{NAMEKO}")
        def on_tick(self, payload):
            Floor.seen += 1

        @rpc
        def ticks(self):
            return Floor.seen

        @http("GET", "/health")
        def health(self, request):
            return answer({"status": "ok"})

        @http("GET", "/ready")
        def ready(self, request):
            return answer({"status": "ready", "services": [self.responder.ping()["status"] for _ in range(5)]})

    config = {"AMQP_URI": uri, "serializer": "json", "max_workers": prefetch, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"}
    runner = ServiceRunner(config)
    runner.add_service(Floor)
    runner.start()
    print("ready", flush=True)
    runner.wait()


# -- the caller ------------------------------------------------------------------------------------


def in_flight(handles: list, n: int, call) -> list:
    """``n`` calls of ``call(handle)``, one caller per handle in flight (a handle is one
    connection: nameko's standalone proxy is one that one green thread waits on); the answers."""
    shares = [n // len(handles) + (i < n % len(handles)) for i in range(len(handles))]

    def caller(handle, count):
        return [call(handle) for _ in range(count)]

    pool = eventlet.GreenPool(len(handles))
    return [a for batch in pool.starmap(caller, zip(handles, shares, strict=True)) for a in batch]


def calls(proxies: list, service: str, n: int) -> None:
    """``n`` calls of ``service.ping``; every answer checked."""
    expected = {"service": service, "status": "ok"}
    answers = in_flight(proxies, n, lambda proxy: getattr(proxy, service).ping())
    wrong = [a for a in answers if a != expected]
    if wrong or len(answers) != n:
        raise SystemExit(f"{service}.ping answered {len(answers)} of {n} calls; {wrong[:1]!r} is not {expected!r}")


def requests_in_flight(sessions: list, url: str, n: int, headers: dict) -> None:
    """``n`` GETs of ``url``; every answer must be a 200."""
    codes = in_flight(sessions, n, lambda session: session.get(url, headers=headers, timeout=60).status_code)
    if len(codes) != n or set(codes) != {200}:
        raise SystemExit(f"GET {url} answered {sorted(set(codes))} ({len(codes)} of {n})")


def events(dispatch, proxy, service: str, n: int) -> None:
    """Publish ``n`` events that ``service`` consumes (``tick.<service>``), then wait until it has
    counted them all (it answers its count over RPC)."""
    target = getattr(proxy, service).ticks() + n
    for i in range(n):
        dispatch(SOURCE, f"tick.{service}", {"n": i, "text": "x" * 200})
    deadline = time.monotonic() + 120
    while (seen := getattr(proxy, service).ticks()) < target:
        if time.monotonic() > deadline:
            raise SystemExit(f"{service} consumed {n - (target - seen)} of {n} events in 120 s")
        eventlet.sleep(0.05)


class Variant:
    """One thing timed: ``run(n)`` makes ``n`` calls; ``pid`` is the process whose CPU counts;
    ``base`` the variant it is compared with (a bare one doing the same)."""

    def __init__(self, name: str, kind: str, pid: int, run, base: str | None = None):
        self.name, self.kind, self.pid, self.run, self.base = name, kind, pid, run, base


def measure(system: Target, services: list[str], n: int, rounds: int, concurrency: int) -> dict:
    import requests
    from nameko.standalone.events import event_dispatcher
    from nameko.standalone.rpc import ClusterRpcProxy

    from harness import free_port

    uri = system.amqp_uri
    port = free_port()
    procs = {}
    for name, role in ((KOMBU, "kombu"), (NAMEKO, "nameko")):
        procs[name] = subprocess.Popen(
            [sys.executable, __file__, "--serve", role, uri, "--concurrency", str(concurrency), "--port", str(port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
    try:
        for name, proc in procs.items():
            if proc.stdout.readline().strip() != "ready":
                raise SystemExit(f"the {name} responder did not start (exit code {proc.poll()})")
        with ExitStack() as stack:
            config = {"AMQP_URI": uri, "serializer": "json"}
            proxies = [stack.enter_context(ClusterRpcProxy(config, timeout=60)) for _ in range(concurrency)]
            sessions = [stack.enter_context(requests.Session()) for _ in range(concurrency)]
            bare, gateway = f"http://127.0.0.1:{port}", system.base
            token = {"Authorization": f"Bearer {system.token}"}
            gateway_pid, nameko_pid = system.pids["gateway"], procs[NAMEKO].pid

            def rpc(service):
                return lambda k: calls(proxies, service, k)

            dispatch = event_dispatcher(config)

            def event(service):
                return lambda k: events(dispatch, proxies[0], service, k)

            def get(url, headers=None):
                return lambda k: requests_in_flight(sessions, url, k, headers or {})

            variants = [
                Variant("bare kombu", "rpc", procs[KOMBU].pid, rpc(KOMBU)),
                Variant("bare nameko", "rpc", nameko_pid, rpc(NAMEKO), base="bare kombu"),
                *(Variant(f"ZTC {s}", "rpc", system.pids[s], rpc(s), base="bare nameko") for s in services),
                Variant("bare kombu event", "event", procs[KOMBU].pid, event(KOMBU)),
                Variant("bare nameko event", "event", nameko_pid, event(NAMEKO), base="bare kombu event"),
                Variant("bare nameko /health", "http", nameko_pid, get(bare + "/health")),
                Variant("ZTC gateway /health", "http", gateway_pid, get(gateway + "/health"), "bare nameko /health"),
                Variant(
                    "ZTC gateway /api/me", "http", gateway_pid, get(gateway + "/api/me", token), "ZTC gateway /health"
                ),
                Variant("bare nameko /ready", "http", nameko_pid, get(bare + "/ready")),
                Variant("ZTC gateway /ready", "http", gateway_pid, get(gateway + "/ready"), "bare nameko /ready"),
            ]
            for v in variants:
                v.run(50)  # warm up: connections, workers, compiled statements
            per_call: dict[str, list[float]] = {v.name: [] for v in variants}
            for round_ in range(rounds):
                print(f"[{time.strftime('%H:%M:%S')}] round {round_ + 1} of {rounds}", file=sys.stderr, flush=True)
                for v in variants:
                    before = cpu_seconds(v.pid)
                    v.run(n)
                    per_call[v.name].append((cpu_seconds(v.pid) - before) / n * 1000)
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait(timeout=10)
    return {
        "calls": n,
        "rounds": rounds,
        "concurrency": concurrency,
        "cpu_ms_per_call": per_call,
        "kind": {v.name: v.kind for v in variants},
        "base": {v.name: v.base for v in variants},
        "ratio_to_base": {
            # None where the base spent less than a clock tick of /proc (too few calls to tell)
            v.name: [m / b if b else None for m, b in zip(per_call[v.name], per_call[v.base], strict=True)]
            if v.base
            else None
            for v in variants
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--services",
        nargs="+",
        default=["intake", "engine"],
        choices=SERVICES,
        help="the Zhitongche services whose ping is measured (default: intake engine)",
    )
    parser.add_argument("--calls", type=int, default=2000, help="calls per variant and round (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each running every variant once (default 3)")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight (default 16)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--serve", nargs=2, metavar=("ROLE", "AMQP_URI"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--attach",
        type=Path,
        metavar="FILE",
        help="measure a system already running, described in FILE (JSON: amqp_uri, base, token, pids), "
        "instead of starting one; bench/e2e.py --floor uses it after its load",
    )
    args = parser.parse_args(argv)
    if args.serve:
        role, uri = args.serve
        if role == "kombu":
            serve_kombu(uri, args.concurrency)
        else:
            serve_nameko(uri, args.concurrency, args.port)
        return 0
    if args.calls < 1 or args.rounds < 1 or args.concurrency < 1:
        parser.error("--calls, --rounds and --concurrency must be at least 1")
    if args.attach:
        result = measure(
            Target(**json.loads(args.attach.read_text())), args.services, args.calls, args.rounds, args.concurrency
        )
    else:
        with System("sqlite") as system:
            result = measure(Target.of(system), args.services, args.calls, args.rounds, args.concurrency)
    print(
        f"\nbench/floor.py  {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}  python "
        f"{platform.python_version()}  (shared machine: compare the ratios)"
    )
    print(
        f"\n{args.calls} calls (RPC, or HTTP GET) per variant and round, {args.concurrency} in flight, {args.rounds} rounds "
        "(median; CPU of the answering process)"
    )
    print(f"{'variant':22} {'cpu ms/call':>12}   compared with (same round, median ratio)")
    for name, runs in result["cpu_ms_per_call"].items():
        base = result["base"][name]
        ratios = [r for r in result["ratio_to_base"][name] or () if r is not None]
        against = f"{statistics.median(ratios):5.2f} x {base}" if ratios else (f"  n/a x {base}" if base else "")
        print(f"{name:22} {statistics.median(runs):12.3f}   {against}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
