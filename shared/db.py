"""Database helpers: engines, sessions, migrations, and the nameko dependency provider.

Each service owns one database (SQLite under var/ by default, PostgreSQL by URL) and its own
Alembic migrations in ``services/<name>/migrations``. Services never open connections themselves:
they get a :class:`UnitOfWork` from the :class:`Database` dependency.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import orjson
from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    MetaData,
    Select,
    create_engine,
    event,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.types import TypeDecorator

from shared import clock
from shared import config as config_module

if TYPE_CHECKING:
    from alembic.config import Config

M = TypeVar("M")  # a mapped class: the rows a page holds

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


# orjson writes what the standard library would, six times faster on an instance's state (CPU
# per step, docs/performance.md): datetimes and dataclasses go to ``default`` (``str``) as they
# did, keys that are not strings are written as the standard library writes them.
_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_dumps(value: object) -> str:
    """How every JSON column is written (what is not JSON becomes its ``str``): a value read back
    is ``json.loads`` of this. Written by orjson, compactly; a value orjson refuses (an integer
    past 64 bits, a lone surrogate) by the standard library, as before. A float that is not a
    number is written ``null`` (PostgreSQL refuses the standard library's ``NaN``)."""
    try:
        return orjson.dumps(value, default=str, option=_ORJSON).decode()
    except TypeError:  # orjson.JSONEncodeError
        # Marked by a leading newline (whitespace JSON allows, kept by SQLite's text and
        # PostgreSQL's json type; orjson never writes it), so json_loads reads it back with the
        # standard library: orjson would read an integer past 64 bits as a float.
        return STDLIB_MARK + json.dumps(value, ensure_ascii=False, default=str)


STDLIB_MARK = "\n"  # what json_dumps puts before what the standard library wrote


def json_loads(text: str | bytes) -> Any:
    """How every JSON column is read: orjson, or the standard library for what orjson refuses (a
    ``NaN`` an earlier writer left) and for what :func:`json_dumps` wrote with it (marked): an
    integer past 64 bits, which a diagram's script may compute, is read back exactly, as an
    integer (orjson would read a float). Such an integer written before the mark (2026-12-03) is
    read as orjson reads it."""
    head = text[:1]
    if head == STDLIB_MARK or head == b"\n":
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def get_engine(url: str) -> Engine:
    """One engine per URL per process."""
    url = config_module.normalize_database_url(url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _make_engine(url)
            _engines[url] = engine
        return engine


def _sqlite_directory(url: str) -> None:
    """A fresh checkout has no ``var/`` yet: make the directory an SQLite file lives in."""
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _sqlite_directory(url)
        engine = create_engine(
            url,
            json_serializer=json_dumps,
            json_deserializer=json_loads,
            connect_args={"check_same_thread": False, "timeout": 30},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    settings = config_module.load()
    engine = create_engine(
        url,
        json_serializer=json_dumps,
        json_deserializer=json_loads,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_recycle=POOL_RECYCLE_SECONDS,
    )
    _ping_when_idle(engine)
    return engine


# A connection back in the pool for longer than this is pinged before it is handed out again;
# one used more recently is not (``pool_pre_ping`` pinged every checkout: one more round trip
# per transaction). A connection that broke in the meantime makes that one transaction fail with
# a disconnect error, which invalidates the whole pool, so the next one reconnects; every caller
# already treats a failed transaction as not done (a job is redelivered, an HTTP call answers 5xx).
POOL_PING_IDLE_SECONDS = 10.0
POOL_RECYCLE_SECONDS = 3600


def _ping_when_idle(engine: Engine) -> None:
    import time

    from sqlalchemy import exc

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info["ztc_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(
        dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
    ) -> None:
        idle_since = record.info.get("ztc_idle_since")
        if idle_since is None or time.monotonic() - idle_since < POOL_PING_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure: let the pool drop it and connect afresh
            raise exc.DisconnectionError(str(error)) from error


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


def pooled(factory: sessionmaker[Session]) -> Connection:
    """A pooled connection of ``factory``'s engine, without a session: for a read (or one
    statement) that needs no unit of work, made often enough that a session's set-up and
    commit would cost more than the statement (a look every tick, every request, every job).
    Use it as a context manager; it goes back to the pool at the end of the block."""
    bind: Engine = factory.kw["bind"]
    return bind.connect()


@contextmanager
def read_pooled(factory: sessionmaker[Session]) -> Iterator[Connection]:
    """A pooled connection for **one** read statement outside any transaction (the gateway's token
    check on every request, a job's inbox check before it runs). On PostgreSQL the connection is in
    autocommit while the block runs, so the statement is its own transaction: it reads what the
    same statement reads as the first of a READ COMMITTED transaction, but psycopg2 sends no
    ``BEGIN`` before it and the pool no ``ROLLBACK`` when it goes back — one round trip to the
    server instead of three (each a wait and a wake-up of the green thread). The connection goes
    back to the pool as it came (SQLAlchemy's isolation level for one connection, reset when the
    pool takes it back); the pool is the engine's, so no connection more is made. Not for a write,
    nor for reads that must see one snapshot (use a session, or :func:`pooled` with ``begin()``).
    On SQLite, whose driver begins no transaction for a read, it is :func:`pooled`."""
    bind: Engine = factory.kw["bind"]
    with bind.connect() as conn:
        if bind.dialect.name == "postgresql":
            # SQLAlchemy puts the connection in autocommit and back when the pool takes it again.
            conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back if it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# A list's total is counted up to this many rows (or to the end of the page asked for, if that is
# further): past it the answer says "at least this many" (``Counted.exact`` false). Counting every
# row a filter matches costs as many rows as the table holds (PostgreSQL reads each one, even from
# an index), so an exact total would make every page of a long list slower as the years go by.
COUNT_BOUND = 1000


class Counted(NamedTuple):
    """A list's total: ``total`` rows, exactly, or at least that many when ``exact`` is false (the
    count stopped at its bound, :data:`COUNT_BOUND`)."""

    total: int
    exact: bool


def bounded_count(session: Session, query: Select[Any], offset: int, limit: int) -> Counted:
    """How many rows ``query`` (a ``select`` of anything, with its WHERE) answers, counted up to
    :data:`COUNT_BOUND` or to the end of the page at ``offset``, whichever is further; one more row
    is read to know whether there are more (then the total is the bound and not exact)."""
    bound = max(COUNT_BOUND, offset + limit)
    return bounded(
        session.scalar(select(func.count()).select_from(query.limit(bound + 1).subquery())) or 0, offset, limit
    )


def bounded(found: int, offset: int, limit: int) -> Counted:
    """``found`` rows as a list's total counted up to its bound (:func:`bounded_count`; also for a
    list held in memory): the bound and not exact past it."""
    bound = max(COUNT_BOUND, offset + limit)
    return Counted(bound, False) if found > bound else Counted(found, True)


def counted_page(
    session: Session,
    model: type[M],
    where: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any],
    offset: int,
    limit: int,
    options: Sequence[Any] = (),
    exact: bool = False,
) -> tuple[Counted, list[M]]:
    """How many rows of ``model`` match ``where`` (counted in SQL, up to a bound:
    :func:`bounded_count`; every one with ``exact``, for a document that must say how many it
    lists), and ``limit`` of them from ``offset`` in ``order_by`` (with the loader ``options``): one
    page of a list and its total."""
    if exact:
        counted = Counted(session.scalar(select(func.count()).select_from(model).where(*where)) or 0, True)
    else:
        counted = bounded_count(session, select(literal_column("1")).select_from(model).where(*where), offset, limit)
    query = select(model).where(*where).options(*options).order_by(*order_by).offset(offset).limit(limit)
    return counted, list(session.scalars(query))


def read_snapshot(session: Session) -> None:
    """Let the rest of ``session``'s transaction read one snapshot of the database, and write nothing
    on PostgreSQL: an answer read in several statements then shows what was committed before its
    first read and nothing committed after it. Ask before the transaction reads anything.

    On PostgreSQL a ``REPEATABLE READ, READ ONLY`` transaction (under the default READ COMMITTED each
    statement sees what was committed before it began, so rows read first and their related rows
    read next may come from either side of another transaction's commit); PostgreSQL refuses it
    once the transaction has run a query. On SQLite a transaction begun now: the driver begins one
    only before a write, so every read would otherwise see the database anew, where in WAL mode one
    transaction's reads all see the snapshot of its first."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN")


def lock_subject(session: Session, subject: str) -> None:
    """Serialise this transaction with every other that locks ``subject`` (say a proposal's number)
    until it ends. On PostgreSQL a transaction-scoped advisory lock, so that two transactions that
    each read what the other has not yet committed (a fact heard while the clocks it fulfils are
    being opened) cannot both miss each other; SQLite lets one writer in at a time anyway."""
    if session.get_bind().dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.blake2b(subject.encode(), digest_size=8).digest(), "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


# -- migrations ---------------------------------------------------------------------------------


def migrations_dir(service: str) -> Path:
    return config_module.ROOT / "services" / service / "migrations"


def alembic_config(service: str, url: str) -> Config:
    from alembic.config import Config

    url = config_module.normalize_database_url(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir(service)))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["service"] = service
    return cfg


def migrate(service: str, url: str) -> None:
    """Bring ``service``'s database at ``url`` to the newest migration."""
    from alembic import command

    url = config_module.normalize_database_url(url)
    if url.startswith("postgresql"):
        ensure_postgres_database(url)
    elif url.startswith("sqlite"):
        _sqlite_directory(url)
    command.upgrade(alembic_config(service, url), "head")


def ensure_postgres_database(url: str) -> None:
    """Create the database named in ``url`` if the server does not have it yet."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    target = make_url(config_module.normalize_database_url(url))
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


def run_migrations_env(metadata: MetaData) -> None:
    """The body of every service's ``migrations/env.py``."""
    from alembic import context

    cfg = context.config
    url = cfg.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("the migration has no sqlalchemy.url (run it through shared.db.migrate)")
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=url.startswith("sqlite"))
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


class UtcDateTime(TypeDecorator[datetime]):
    """A moment, stored and read back as an aware UTC datetime on both databases.

    PostgreSQL keeps the offset (``timestamptz``); SQLite keeps text without one and hands back a
    naive datetime. Both ways a value goes through :func:`shared.clock.as_utc` (naive is UTC, aware
    is converted), so what comes back needs no further conversion."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return clock.as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return clock.as_utc(value)


# How every service maps its ``Mapped[dict]`` and ``Mapped[list]`` columns.
TYPE_ANNOTATION_MAP: dict[type[Any], type[JSON]] = {dict: JSON, list: JSON}


def make_base() -> type[DeclarativeBase]:
    """A declarative base of its own for one service: its tables, its metadata, its database.
    (A service whose models are type-checked declares ``class Base(DeclarativeBase)`` itself, with
    :data:`TYPE_ANNOTATION_MAP`: a base made by a function is beyond what mypy can check.)"""

    class Base(DeclarativeBase):
        type_annotation_map = TYPE_ANNOTATION_MAP

    return Base


__all__ = ["UtcDateTime", "make_base", "Session", "get_engine", "session_factory", "transaction", "migrate"]
