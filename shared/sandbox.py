"""Containment of diagram content: time and memory limits on every script and expression.

A designer's ``while True: pass``, ``10**10**10``, ``sum(range(10**15))`` or ``'a' * 10**10`` must
not freeze or starve the engine that runs every other instance. So a script or expression runs in
one of two ways:

- **Inline**, when it is *bounded by construction* (:func:`is_bounded`): no loops, no function
  definitions, no ``**``, ``*``, ``%`` or ``<<``, calls only to a short list of builtins and methods
  whose cost is linear in the data they are given. Its time and memory are then bounded by the size
  of the task data, which the instance already holds. Nearly every gateway condition, service-task
  parameter and small script of a real diagram is of this kind, so the common step pays nothing.
- **In a sandbox process** otherwise: a pooled worker (``python -m shared.sandbox``) with an address
  space limit (``RLIMIT_AS``) runs it while the caller waits, cooperatively under eventlet, for at
  most the time limit, counted in the worker's own CPU time where Linux tells it (a script on a
  machine whose cores are all busy is not stopped for the time it waited for one), and never more
  than ``WALL_BACKSTOP_FACTOR`` times the limit on the clock. Past it the worker is killed and
  :class:`LimitExceeded` names the limit; a
  worker that runs out of memory answers the same way. The caller's process never runs the code,
  so its own latency, memory and heartbeats are untouched.

Values cross the pipe pickled; what comes back is unpickled with a whitelist of plain data types
(the worker ran untrusted code, so its answer is data, never objects to construct).
"""

from __future__ import annotations

import ast
import atexit
import builtins
import io
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Never

from shared import restricted

MAX_RESULT_BYTES = 16 * 1024 * 1024  # an answer larger than this is no task data
MAX_WORKERS = 4
_HEADER = struct.Struct(">Q")
_READY = b"ready\n"
WORKER_START_SECONDS = 60.0
# However busy the machine, a script is stopped after this many times its time limit on the clock,
# even if it has not yet used its limit of CPU time.
WALL_BACKSTOP_FACTOR = 5.0
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Limits:
    """How long and how much memory one script or expression may use."""

    seconds: float = 1.0
    memory_mb: int = 128

    def describe(self) -> str:
        return f"{self.seconds:g} s, {self.memory_mb} MB"


class LimitExceeded(Exception):
    """A script or expression ran past its time or memory limit and was stopped."""

    def __init__(self, kind: str, limits: Limits, detail: str = "") -> None:
        limit = f"{limits.seconds:g} s" if kind == "time" else f"{limits.memory_mb} MB"
        message = f"stopped: it exceeded its {kind} limit of {limit}"
        if detail:
            message += f" ({detail})"
        super().__init__(message)
        self.kind = kind
        self.limits = limits


class SandboxError(Exception):
    """The sandboxed code raised an exception of a type that cannot be rebuilt here."""


# -- what may run inline -------------------------------------------------------------------------
# Builtins whose cost is at most linear (or n log n) in the size of their arguments, and which
# cannot make a value much larger than their arguments.
SAFE_FUNCTIONS = frozenset(
    {
        "len",
        "str",
        "int",
        "float",
        "bool",
        "abs",
        "min",
        "max",
        "sum",
        "any",
        "all",
        "sorted",
        "list",
        "tuple",
        "set",
        "dict",
        "date",
        "datetime",
        "timedelta",
        "isinstance",
    }
)
SAFE_METHODS = frozenset(
    {
        "get",
        "keys",
        "values",
        "items",
        "lower",
        "upper",
        "strip",
        "lstrip",
        "rstrip",
        "startswith",
        "endswith",
        "isoformat",
        "date",
        "split",
        "count",
        "index",
        "isdigit",
        "weekday",
        "title",
        "capitalize",
        "copy",
        "casefold",
    }
)
_SAFE_BINOPS = (ast.Add, ast.Sub, ast.Div, ast.FloorDiv, ast.BitAnd, ast.BitOr, ast.BitXor, ast.RShift)
_MAX_INLINE_STATEMENTS = 50
# A straight-line script can double a value with every ``s = s + s``: a few additions are harmless,
# a long chain of them is sent to the sandbox.
_MAX_INLINE_ADDITIONS = 8


class _Bounded(ast.NodeVisitor):
    def __init__(self) -> None:
        self.additions = 0
        self.statements = 0
        self.comprehension_depth = 0

    def generic_visit(self, node: ast.AST) -> Never:
        raise _Unbounded(type(node).__name__)

    def _all(self, nodes: Iterable[ast.AST | None]) -> None:
        for node in nodes:
            if node is not None:
                self.visit(node)

    # statements (exec mode)
    def visit_Module(self, node: ast.Module) -> None:
        self._all(node.body)

    def _statement(self) -> None:
        self.statements += 1
        if self.statements > _MAX_INLINE_STATEMENTS:
            raise _Unbounded("too many statements")

    def visit_Assign(self, node: ast.Assign) -> None:
        self._statement()
        self._all(node.targets)
        self.visit(node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._statement()
        if not isinstance(node.op, _SAFE_BINOPS):
            raise _Unbounded(type(node.op).__name__)
        if isinstance(node.op, ast.Add):
            self._addition()
        self.visit(node.target)
        self.visit(node.value)

    def visit_Expr(self, node: ast.Expr) -> None:
        self._statement()
        self.visit(node.value)

    def visit_If(self, node: ast.If) -> None:
        self._statement()
        self.visit(node.test)
        self._all(node.body)
        self._all(node.orelse)

    def visit_Pass(self, node: ast.Pass) -> None:
        self._statement()

    # expressions
    def visit_Expression(self, node: ast.Expression) -> None:
        self.visit(node.body)

    def visit_Constant(self, node: ast.Constant) -> None:
        pass

    def visit_Name(self, node: ast.Name) -> None:
        pass

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.visit(node.value)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self.visit(node.value)
        self.visit(node.slice)

    def visit_Slice(self, node: ast.Slice) -> None:
        self._all([node.lower, node.upper, node.step])

    def visit_Compare(self, node: ast.Compare) -> None:
        self.visit(node.left)
        self._all(node.comparators)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        self._all(node.values)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        self.visit(node.operand)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self._all([node.test, node.body, node.orelse])

    def _addition(self) -> None:
        self.additions += 1
        if self.additions > _MAX_INLINE_ADDITIONS:
            raise _Unbounded("too many additions")

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if not isinstance(node.op, _SAFE_BINOPS):
            raise _Unbounded(type(node.op).__name__)
        if isinstance(node.op, ast.Add):
            self._addition()
        self.visit(node.left)
        self.visit(node.right)

    def visit_Tuple(self, node: ast.Tuple | ast.List | ast.Set) -> None:
        self._all(node.elts)

    visit_List = visit_Set = visit_Tuple

    def visit_Dict(self, node: ast.Dict) -> None:
        if any(key is None for key in node.keys):
            raise _Unbounded("dict unpacking")
        self._all(node.keys)
        self._all(node.values)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        self._all(node.values)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        if node.format_spec is not None:
            raise _Unbounded("format spec")  # f"{x:>999999999}" allocates at will
        self.visit(node.value)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            if func.id not in SAFE_FUNCTIONS:
                raise _Unbounded(f"call to {func.id}")
        elif isinstance(func, ast.Attribute):
            if func.attr not in SAFE_METHODS:
                raise _Unbounded(f"call to .{func.attr}")
            self.visit(func.value)
        else:
            raise _Unbounded("call")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise _Unbounded("starred argument")
            self.visit(arg)
        for keyword in node.keywords:
            if keyword.arg is None:
                raise _Unbounded("keyword unpacking")
            self.visit(keyword.value)

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp, parts: list[ast.expr]
    ) -> None:
        if self.comprehension_depth or len(node.generators) != 1:
            raise _Unbounded("nested comprehension")
        generator = node.generators[0]
        if not isinstance(generator.iter, (ast.Name, ast.Attribute, ast.Subscript)):
            raise _Unbounded("comprehension over a computed iterable")
        self.comprehension_depth += 1
        try:
            self.visit(generator.iter)
            self.visit(generator.target)
            self._all(generator.ifs)
            self._all(parts)
        finally:
            self.comprehension_depth -= 1

    def visit_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        self._comprehension(node, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node, [node.key, node.value])


class _Unbounded(Exception):
    pass


@lru_cache(maxsize=4096)
def is_bounded(source: str, mode: str) -> bool:
    """True if ``source`` cannot run long or allocate much beyond the data it is given."""
    try:
        tree = ast.parse(source, mode=mode)
        _Bounded().visit(tree)
    except (SyntaxError, _Unbounded, RecursionError, ValueError):
        return False
    return True


# -- the worker pool -------------------------------------------------------------------------------
_SAFE_CLASSES = (
    {("builtins", name) for name in ("set", "frozenset", "complex", "bytearray", "slice", "range")}
    | {("datetime", name) for name in ("datetime", "date", "time", "timedelta", "timezone")}
    | {
        ("decimal", "Decimal"),
        ("collections", "OrderedDict"),
        ("uuid", "UUID"),
        ("zoneinfo", "ZoneInfo"),
        ("copyreg", "_reconstructor"),
    }
)


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_CLASSES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"the sandbox answered with a {module}.{name}, which is not data")


def _loads_data(payload: bytes) -> Any:
    return _DataUnpickler(io.BytesIO(payload)).load()


class _Worker:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shared.sandbox"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            close_fds=True,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None  # both PIPE
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        self.out_fd = self.stdout.fileno()
        # The time limit counts the evaluation, not the worker's start: wait for it to say it is
        # ready (a loaded machine can take seconds to start a Python process).
        try:
            ready = self._read(len(_READY), time.monotonic() + WORKER_START_SECONDS)
        except EOFError:
            ready = None
        if ready != _READY:
            self.kill()
            raise SandboxError("the sandbox process did not start")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except Exception:  # noqa: BLE001 - a worker that will not die is left to the OS
            pass
        for stream in (self.stdin, self.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def cpu_seconds(self) -> float | None:
        """The CPU time the worker has used so far, from ``/proc`` (None where it cannot be read)."""
        try:
            with open(f"/proc/{self.proc.pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
        except (OSError, IndexError, ValueError):
            return None

    def answers_within(self, seconds: float, cpu_before: float | None) -> bool:
        """Whether the worker starts answering before it has used ``seconds`` of CPU time since
        ``cpu_before`` (its :meth:`cpu_seconds` when the request was sent), and before
        ``WALL_BACKSTOP_FACTOR`` times ``seconds`` on the clock. Without a CPU clock to read, the
        limit is ``seconds`` on the clock."""
        now = time.monotonic()
        backstop, deadline = now + seconds * WALL_BACKSTOP_FACTOR, now + seconds
        while True:
            readable, _, _ = select.select([self.out_fd], [], [], max(0.0, deadline - time.monotonic()))
            if readable:
                return True
            now, used = time.monotonic(), self.cpu_seconds()
            if cpu_before is None or used is None or used - cpu_before >= seconds or now >= backstop:
                return False
            # Not yet its limit of CPU: wait at most for the rest of it (the earliest it could run out).
            deadline = min(backstop, now + max(0.01, seconds - (used - cpu_before)))

    def send(self, payload: bytes) -> None:
        self.stdin.write(_HEADER.pack(len(payload)) + payload)
        self.stdin.flush()

    def receive(self, deadline: float) -> bytes | None:
        """The answer's bytes, or None if the deadline passed first; EOFError if the worker died."""
        header = self._read(_HEADER.size, deadline)
        if header is None:
            return None
        (size,) = _HEADER.unpack(header)
        if size > MAX_RESULT_BYTES:
            raise _TooLarge(size)
        return self._read(size, deadline)

    def _read(self, size: int, deadline: float) -> bytes | None:
        chunks, got = [], 0
        while got < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([self.out_fd], [], [], remaining)
            if not readable:
                return None
            chunk = os.read(self.out_fd, min(size - got, 1 << 20))
            if not chunk:
                raise EOFError("the sandbox worker ended")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)


class _TooLarge(Exception):
    pass


class Sandbox:
    """A small pool of worker processes that run restricted code under limits."""

    def __init__(self, max_workers: int = MAX_WORKERS) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_workers)
        self._all: set[_Worker] = set()

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                self._all.discard(worker)
        worker = _Worker()
        with self._lock:
            self._all.add(worker)
        return worker

    def warm(self, count: int) -> None:
        """Have at least ``count`` idle workers ready (each is a Python process to start, slow on a
        loaded machine), so that as many scripts can start at once without waiting for one."""
        with self._lock:
            missing = count - sum(1 for w in self._idle if w.alive())
        for _ in range(max(0, min(missing, MAX_WORKERS))):
            worker = _Worker()
            with self._lock:
                self._all.add(worker)
                self._idle.append(worker)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            self._idle.append(worker)

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)

    def run(
        self, mode: str, source: str, context: Mapping[str, Any], extra: Mapping[str, Any] | None, limits: Limits
    ) -> tuple[Any, dict[str, Any] | None]:
        """Run ``source`` (``eval`` or ``exec``) on ``context``; returns (value, new context)."""
        try:
            request = pickle.dumps(
                (mode, source, context, extra or {}, limits.memory_mb, limits.seconds), protocol=pickle.HIGHEST_PROTOCOL
            )
        except Exception as exc:  # noqa: BLE001 - whatever cannot cross is named
            raise SandboxError(f"the task data cannot be handed to the sandbox: {exc}") from None
        with self._slots:
            worker = self._take()
            cpu_before = worker.cpu_seconds()
            try:
                worker.send(request)
                started = worker.answers_within(limits.seconds, cpu_before)
                # Once it answers, the rest of the answer follows at once.
                payload = worker.receive(time.monotonic() + limits.seconds) if started else None
            except _TooLarge as exc:
                self._discard(worker)
                raise LimitExceeded("memory", limits, f"its answer was {exc.args[0] // 1024} KiB") from None
            except (EOFError, OSError):
                self._discard(worker)
                raise LimitExceeded("memory", limits, "the sandbox process was stopped") from None
            if payload is None:
                self._discard(worker)
                raise LimitExceeded("time", limits)
            try:
                answer = _loads_data(payload)
            except Exception as exc:  # noqa: BLE001 - an answer that is not data is refused
                self._discard(worker)
                raise SandboxError(str(exc)) from None
            if answer[0] == "limit":
                self._discard(worker)
                raise LimitExceeded(answer[1], limits)
            self._give_back(worker)
        if answer[0] == "ok":
            return answer[1], answer[2]
        _, kind, message = answer
        raise _rebuild(kind, message)

    def close(self) -> None:
        with self._lock:
            workers, self._all, self._idle = list(self._all), set(), []
        for worker in workers:
            worker.kill()


def _rebuild(kind: str, message: str) -> Exception:
    """The designer's exception, rebuilt here as the same builtin type where there is one."""
    if kind == "UnsafeScript":
        return restricted.UnsafeScript(message)
    cls = getattr(builtins, kind, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except Exception:  # noqa: BLE001 - an exception type that wants other arguments
            pass
    return SandboxError(f"{kind}: {message}")


_POOL: Sandbox | None = None
_POOL_LOCK = threading.Lock()


def pool() -> Sandbox:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = Sandbox()
            atexit.register(_POOL.close)
        return _POOL


# -- the worker's side -------------------------------------------------------------------------------
def _address_space() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _die_with_parent() -> None:  # pragma: no cover - runs in the worker process
    """Linux: the kernel kills this worker when the process that started it dies."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - elsewhere, the CPU limit and EOF on stdin end it
        pass


def _serve() -> None:  # pragma: no cover - runs in the worker process
    import resource
    import signal

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing the code prints may reach the answer pipe
    _die_with_parent()
    # Ctrl-C in a terminal reaches every process of its group, this worker too; the service that
    # started it decides when it ends (EOF on stdin when it stops, the kernel if it dies), so the
    # worker neither dies mid-answer nor prints a KeyboardInterrupt's traceback into its log.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    baseline = _address_space()
    out.write(_READY)
    out.flush()
    while True:
        header = inp.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        (size,) = _HEADER.unpack(header)
        mode, source, context, extra, memory_mb, seconds = pickle.loads(inp.read(size))
        resource.setrlimit(resource.RLIMIT_AS, (baseline + memory_mb * 1024 * 1024, resource.RLIM_INFINITY))
        # A backstop should the caller be gone and not kill us: the kernel ends a worker that
        # spends much more CPU than this evaluation may.
        usage = resource.getrusage(resource.RUSAGE_SELF)
        resource.setrlimit(
            resource.RLIMIT_CPU, (int(usage.ru_utime + usage.ru_stime + seconds) + 2, resource.RLIM_INFINITY)
        )
        answer: tuple[object, ...]
        try:
            if mode == "eval":
                answer = ("ok", restricted.evaluate(source, context, extra), None)
            else:
                restricted.execute(source, context, extra)
                answer = ("ok", None, context)
        except MemoryError:
            answer = ("limit", "memory")
        except BaseException as exc:  # noqa: BLE001 - the designer's error (even SystemExit) goes back as data
            answer = ("error", type(exc).__name__, str(exc))
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        try:
            payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            payload = pickle.dumps(("limit", "memory"))
        except Exception as exc:  # noqa: BLE001 - e.g. an object of a class the script defined
            payload = pickle.dumps(("error", "TypeError", f"the script left a value that is not data: {exc}"))
        out.write(_HEADER.pack(len(payload)) + payload)
        out.flush()


if __name__ == "__main__":  # pragma: no cover
    _serve()
