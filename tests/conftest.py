"""Test set-up shared by every tier.

The services run on eventlet, so the whole test process is monkey-patched first, as a service
process is; psycopg2 is made cooperative for the same reason.
"""

import eventlet

eventlet.monkey_patch()

from psycogreen.eventlet import patch_psycopg  # noqa: E402

patch_psycopg()

import os  # noqa: E402
import sqlite3  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.pool import Pool  # noqa: E402

from shared import clock  # noqa: E402
from tests import support  # noqa: E402

# No per-example wall-clock deadline for Hypothesis: the lanes share two cores (load 10 and more
# during `make test`), so a 200 ms deadline failed a pure set computation now and then. A deadline
# is a timing assertion; speed is measured in bench/, not in tests.
settings.register_profile("ztc", deadline=None)
settings.load_profile("ztc")


# Each service process keeps 2 PostgreSQL connections per database open instead of 10 (a burst
# still opens up to 10 more): the lanes of `make test` run several systems on PostgreSQL at once
# (and the chaos run), and the server's max_connections (100) is the machine's. The e2e systems'
# processes inherit it from this environment; the chaos harness is given it (test_chaos.py).
os.environ.setdefault("ZTC_DB_POOL_SIZE", "2")


def pytest_addoption(parser):
    parser.addoption(
        "--no-postgres", action="store_true", default=False, help="run the database-backed tests on SQLite only"
    )


def pytest_configure(config):
    config.option.suppress_eventlet_notification = True
    config.addinivalue_line(
        "markers",
        "restarts_broker: restarts a RabbitMQ node of the test's own (bench/nodes.py), in a lane beside the others",
    )
    config.addinivalue_line(
        "markers",
        "both_databases: an integration or end-to-end test of database behaviour (locking, "
        "concurrency, transactions, constraints, migrations, error classes): "
        "runs on SQLite and PostgreSQL; other integration tests run on SQLite, other "
        "end-to-end tests on PostgreSQL",
    )
    config.addinivalue_line(
        "markers",
        "postgresql_only: a test of what only deployments on PostgreSQL run (e.g. the compose and "
        "Kubernetes preparation job); on SQLite with --no-postgres",
    )
    config.addinivalue_line(
        "markers",
        "system(name, first=False): the running system an end-to-end module uses "
        "(default: the shared one); first: before the system's other modules",
    )
    config.addinivalue_line(
        "markers",
        "browser: drives Debian's chromium through the web console (`make browser` "
        "installs it); left out with -m 'not browser'",
    )
    config.addinivalue_line(
        "markers",
        "chaos: the chaos harness's short form (bench/chaos.py --short); "
        "part of `make test`, left out with -m 'not chaos'",
    )


@pytest.fixture
def skipping_clock():
    """A clock that moves only when told; installed for our code and the diagrams' timers."""
    fake = clock.SkippingClock()
    previous = clock.install(fake)
    yield fake
    clock.install(previous)


@event.listens_for(Pool, "connect")
def _sqlite_without_fsync(dbapi_connection, _record):
    """The tests make thousands of throwaway SQLite databases; waiting for the disk at every commit
    made the unit tier wait on I/O more than it computed. Nothing here survives a power cut, so
    the test process's SQLite connections do not sync (a service's own engine still sets its
    pragmas after this; other processes are untouched)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=OFF")


INTEGRATION = Path(__file__).resolve().parent / "integration"
E2E = Path(__file__).resolve().parent / "e2e"


def _db_kinds(metafunc):
    """The database kinds a test that takes ``db_kind`` runs on.

    Only tests of database behaviour run on both: unit tests that take ``db_kind`` (they test
    the database layer), and integration and end-to-end tests marked ``both_databases`` (locking,
    concurrency, transactions, constraints and idempotency keys, migrations, the errors a database
    raises). Other integration tests, which test the services over the bus, run on SQLite, the
    embedded default; other end-to-end scenarios on PostgreSQL, what a deployment runs, except the
    modules that run once, on SQLite (:func:`tests.e2e.conftest.once_on_sqlite`: the console's
    browser tests). ``--no-postgres`` runs everything on SQLite."""
    if metafunc.config.getoption("--no-postgres"):
        return ["sqlite"]
    if metafunc.definition.get_closest_marker("postgresql_only"):
        return ["postgresql"]
    parents = Path(metafunc.definition.path).parents
    both = bool(metafunc.definition.get_closest_marker("both_databases"))
    if INTEGRATION in parents and not both:
        return ["sqlite"]
    if E2E in parents and not both:
        return ["sqlite"] if "on_sqlite_only" in metafunc.fixturenames else ["postgresql"]
    return ["sqlite", "postgresql"]


def pytest_generate_tests(metafunc):
    if "db_kind" in metafunc.fixturenames:
        # The end-to-end tests share one running system per database kind across modules (session
        # scope: pytest runs every module on SQLite, then every module on PostgreSQL); elsewhere a
        # module's tests may share what they set up for one kind.
        scope = "session" if E2E in Path(metafunc.definition.path).parents else "module"
        metafunc.parametrize("db_kind", _db_kinds(metafunc), scope=scope)


@pytest.fixture
def database_url_template(db_kind, tmp_path):
    """A ``{service}`` URL template for fresh databases of the kind under test, dropped after."""
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path}/{{service}}.db"
        return
    with support.postgres_databases() as template:
        yield template


@pytest.fixture
def vhost():
    """A throwaway RabbitMQ virtual host on the real broker."""
    with support.rabbit_vhost() as name:
        yield name


@pytest.fixture
def settings(tmp_path, vhost, database_url_template):
    return support.make_settings(tmp_path, vhost, database_url_template)
