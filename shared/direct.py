"""The engine's per-step statements, executed on the driver's own cursor.

SQLAlchemy Core spends, around every statement, several times what the driver itself spends on it:
measured on this project's ``history`` insert (``bench/direct.py``), about 19 µs of CPU a statement
through ``Connection.execute`` against 2 µs on the sqlite3 cursor, and 80–117 µs against 31–43 µs
on psycopg2's. The engine runs about seven statements a step, so that work was a tenth of a step on
SQLite and a quarter on PostgreSQL (``docs/performance.md``).

A :class:`Direct` statement is still written, compiled and typed by SQLAlchemy: compiled once per
dialect, it keeps the SQL SQLAlchemy renders, the order and names of its parameters, and the type
processing of each (``JSON`` through the engine's serializer, :class:`shared.db.UTCDateTime`,
SQLite's text dates; a read's columns through their result processors). Only the execution is
done here, on the DB-API cursor of the connection the caller's transaction already holds, so the
statement commits or rolls back with the rest of the transaction. What SQLAlchemy would do around
it is kept: the ``before_cursor_execute`` and ``after_cursor_execute`` events fire (tests and
``bench/statements.py`` count and time statements with them); a driver error is raised as
SQLAlchemy's own exception (an ``IntegrityError`` is ``sqlalchemy.exc.IntegrityError``); a
disconnect invalidates the connection, as SQLAlchemy does, so the pool reconnects.

Outside a transaction begun by SQLAlchemy (a bare pooled connection) a statement is executed by
SQLAlchemy itself: the driver's implicit transaction would otherwise be one SQLAlchemy does not
know to commit. Statements whose parameters SQLAlchemy expands when it executes them (``IN`` with
a list) are not accepted.

**Writes sent together.** On PostgreSQL every statement is a round trip to the server, and its
client side costs the engine more CPU than the statement's own work (``bench/statements.py``: about
0.1 ms each, six a step). A write whose result nobody reads (a history row, a job, its outbox row,
a work item) can be sent with :meth:`Direct.later`: psycopg2 renders it with its parameters (it
binds parameters on the client in any case, so the server receives the same text) and it is held on
the connection until the transaction's next statement, which carries it: the held writes and that
statement go in one round trip, in the order they were made, the statement last, so its rows or its
row count are its own. Any other statement on the connection (SQLAlchemy's, the ORM's) and the
commit send what is held first (:func:`hold_writes` installs that on an engine, and ``later``
holds nothing on an engine without it); a rollback drops it. So every statement sees the writes made before it, exactly as if each had been sent at once;
what changes is only where a held write's error is raised: with the statement that carried it. A
caller that tells one error from another (a duplicate key expected of its own insert) sends what is
held first (:func:`send_held`). On SQLite, a call into the same process, :meth:`Direct.later` is
:meth:`Direct.execute`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.sql import Delete, Insert, Select, Update

Processor = Callable[[Any], Any] | None
_MISSING = object()
HELD = "ztc_held_writes"  # the connection's info: writes rendered with their values, not yet sent


class _Bind(NamedTuple):
    name: str  # as the driver receives it (a pyformat key), or its place (qmark)
    key: str  # the caller's parameter
    default: Any  # the statement's own value, or _MISSING when the caller must give it
    process: Processor


class _Plan(NamedTuple):
    sql: str
    positional: bool
    binds: tuple[_Bind, ...]
    accepted: frozenset[str]  # the parameter keys the statement consumes
    columns: tuple[str, ...]  # a read's result columns
    results: tuple[Processor, ...]
    row: type | None  # a read's rows: a named tuple of its columns


class Direct:
    """One Core statement (``insert``, ``update``, ``delete`` or ``select``), executed on the
    driver's cursor: a write by :meth:`execute`, a read (or a write with ``RETURNING``) by :meth:`rows`. ``keys``: an INSERT's or UPDATE's value columns (the keys of the parameters the
    caller passes for them; the statement's other bind parameters are its ``bindparam`` names)."""

    def __init__(self, statement: Insert | Update | Delete | Select[Any], keys: Iterable[str] = ()) -> None:
        self.statement = statement
        self.keys = tuple(keys)
        self._plans: dict[int, tuple[Dialect, _Plan]] = {}

    # -- what is executed --------------------------------------------------------------------
    def _plan(self, dialect: Dialect) -> _Plan:
        found = self._plans.get(id(dialect))
        if found is not None and found[0] is dialect:
            return found[1]
        compiled = self.statement.compile(dialect=dialect, column_keys=list(self.keys) or None)
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise ValueError("a Direct statement cannot expand its parameters when it runs (IN with a list)")
        # SQLAlchemy's own processing of each parameter (the types' bind processors).
        processors = cast("Mapping[str, Processor]", compiled._bind_processors)
        names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
        escaped: Mapping[str, str] = compiled.escaped_bind_names or {}
        binds = []
        for name in names:
            parameter = compiled.binds[name]
            default = _MISSING if parameter.required else parameter.effective_value
            binds.append(_Bind(escaped.get(name, name), parameter.key, default, processors.get(name)))
        columns: tuple[str, ...] = ()
        results: tuple[Processor, ...] = ()
        row: type | None = None
        if compiled._result_columns:  # a select, or a write with RETURNING
            labelled = compiled._result_columns
            columns = tuple(entry[0] for entry in labelled)
            results = tuple(entry[3]._cached_result_processor(dialect, None) for entry in labelled)
            row = NamedTuple("DirectRow", [(name, Any) for name in columns])  # type: ignore[misc,no-redef]
        accepted = frozenset(bind.key for bind in binds)
        plan = _Plan(compiled.string, bool(compiled.positional), tuple(binds), accepted, columns, results, row)
        self._plans[id(dialect)] = (dialect, plan)
        return plan

    @staticmethod
    def _values(plan: _Plan, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        if not plan.accepted.issuperset(params):  # as SQLAlchemy refuses a value it would not write
            unused = ", ".join(sorted(set(params) - plan.accepted))
            raise exc.ArgumentError(f"Unconsumed column names: {unused}")
        values = []
        for bind in plan.binds:
            value = params.get(bind.key, bind.default)
            if value is _MISSING:
                raise exc.ArgumentError(f"a value is required for bind parameter {bind.key!r}")
            values.append(bind.process(value) if bind.process is not None else value)
        if plan.positional:
            return values
        return {bind.name: value for bind, value in zip(plan.binds, values, strict=True)}

    # -- running it --------------------------------------------------------------------------
    def execute(self, conn: Connection, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] = ()) -> int:
        """Run a write with one set of parameters, or each of a list; the rows it touched (the
        driver's ``rowcount``)."""
        if not conn.in_transaction():
            return int(conn.execute(self.statement, params or None).rowcount)
        plan = self._plan(conn.dialect)
        many = not isinstance(params, Mapping)
        values: Any = [self._values(plan, p) for p in params] if many else self._values(plan, params)  # type: ignore[arg-type]
        if many and not values:
            return 0
        cursor = self._run(conn, plan, values, many)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def later(self, conn: Connection, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] = ()) -> None:
        """A write whose row count nobody reads, sent with the transaction's next statement or its
        commit where the driver can send several at once (see the module's text); else now."""
        if not (conn.in_transaction() and _holds(conn)):
            self.execute(conn, params)
            return
        plan = self._plan(conn.dialect)
        sets = [params] if isinstance(params, Mapping) else params
        values = [self._values(plan, p) for p in sets]
        if not values:
            return
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            held = conn.info.setdefault(HELD, [])
            held.extend(cursor.mogrify(plan.sql, v).decode() for v in values)
        finally:
            cursor.close()

    def rows(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Run a read; its rows, each a named tuple of the statement's columns, with SQLAlchemy's
        result processing (a ``JSON`` column decoded, a date parsed)."""
        if not conn.in_transaction():
            return list(conn.execute(self.statement, params or {}))
        plan = self._plan(conn.dialect)
        assert plan.row is not None, "rows() is for a select, or a write with RETURNING"
        cursor = self._run(conn, plan, self._values(plan, params or {}), False)
        try:
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        results, make = plan.results, plan.row
        if not any(results):
            return [make(*r) for r in fetched]
        return [make(*(p(v) if p is not None else v for p, v in zip(results, r, strict=True))) for r in fetched]

    def first(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first row of a read, or None."""
        found = self.rows(conn, params)
        return found[0] if found else None

    def _run(self, conn: Connection, plan: _Plan, values: Any, many: bool) -> Any:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        sql = plan.sql
        held = conn.info.get(HELD)
        if held:
            if many:  # several sets of parameters are not one statement: what is held goes first
                send_held(conn)
            else:  # what is held, then this statement, in one round trip; its results are the last's
                held.append(cursor.mogrify(sql, values).decode())
                sql, values = ";".join(held), None
                held.clear()
        return _execute(conn, cursor, sql, values, many)

    @staticmethod
    def _wrapped(conn: Connection, error: Exception, sql: str, values: Any, many: bool) -> Exception:
        dialect = conn.dialect
        if not isinstance(error, dialect.loaded_dbapi.Error):
            return error
        disconnect = dialect.is_disconnect(error, conn.connection.dbapi_connection, None)
        wrapped = exc.DBAPIError.instance(
            sql,
            values,
            error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=disconnect,
            dialect=dialect,
            ismulti=many,
        )
        if disconnect:
            conn.invalidate(error)
        return wrapped


# The engines whose connections hold writes: :func:`hold_writes` installed the sending on them.
_HOLDING: weakref.WeakSet[Engine] = weakref.WeakSet()


def _holds(conn: Connection) -> bool:
    """Whether writes are held on ``conn``: its engine sends them (:func:`hold_writes`) and its
    driver renders parameters on the client and runs several statements in one call."""
    return conn.engine in _HOLDING


def send_held(conn: Connection) -> None:
    """Send the writes held on ``conn`` now, in one round trip (nothing if none is held)."""
    held = conn.info.get(HELD)
    if not held:
        return
    sql = ";".join(held)
    held.clear()
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    _execute(conn, cursor, sql, None, False).close()


def _execute(conn: Connection, cursor: Any, sql: str, values: Any, many: bool) -> Any:
    """Run ``sql`` on ``cursor`` with SQLAlchemy's cursor events and its exceptions; the cursor
    (closed if it failed)."""
    events = conn._has_events or conn.engine._has_events
    try:
        if events:
            conn.dispatch.before_cursor_execute(conn, cursor, sql, values, None, many)
        if many:
            cursor.executemany(sql, values)
        else:
            cursor.execute(sql, values)
        if events:
            conn.dispatch.after_cursor_execute(conn, cursor, sql, values, None, many)
    except Exception as error:
        cursor.close()
        raise Direct._wrapped(conn, error, sql, values, many) from error
    return cursor


def hold_writes(engine: Engine) -> None:
    """Let :meth:`Direct.later` hold writes on ``engine``'s connections, where its driver can
    (psycopg2): every statement SQLAlchemy executes, and every commit, first sends what is held
    on its connection; a rollback and a connection going back to the pool drop it (so a new
    transaction finds none held). Installed once an engine; elsewhere ``later`` writes at once."""
    if engine.dialect.driver != "psycopg2" or engine in _HOLDING:
        return
    event.listen(engine, "before_cursor_execute", _send_before)
    event.listen(engine, "commit", _send_before)
    event.listen(engine, "rollback", _drop)
    event.listen(engine, "checkin", _drop_on_checkin)
    _HOLDING.add(engine)


def _send_before(conn: Connection, *_args: Any) -> None:
    if conn.info.get(HELD):
        send_held(conn)


def _drop(conn: Connection) -> None:
    held = conn.info.get(HELD)
    if held:
        held.clear()


def _drop_on_checkin(_dbapi_connection: Any, record: Any) -> None:
    held = record.info.get(HELD)
    if held:
        held.clear()
