"""Test set-up shared by every tier.

The services run on eventlet, so the whole test process is monkey-patched first, as a service
process is; psycopg2 is made cooperative for the same reason.
"""
import eventlet

eventlet.monkey_patch()

from psycogreen.eventlet import patch_psycopg  # noqa: E402

patch_psycopg()

import pytest  # noqa: E402

from shared import clock  # noqa: E402
from tests import support  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--no-postgres", action="store_true", default=False,
                     help="run the database-backed tests on SQLite only")


def pytest_configure(config):
    config.option.suppress_eventlet_notification = True
    config.addinivalue_line("markers", "chaos: the chaos harness's short form (bench/chaos.py --short); "
                                       "part of `make test`, left out with -m 'not chaos'")


@pytest.fixture
def skipping_clock():
    """A clock that moves only when told; installed for our code and the diagrams' timers."""
    fake = clock.SkippingClock()
    previous = clock.install(fake)
    yield fake
    clock.install(previous)


def _db_kinds(config):
    return ["sqlite"] if config.getoption("--no-postgres") else ["sqlite", "postgresql"]


def pytest_generate_tests(metafunc):
    if "db_kind" in metafunc.fixturenames:
        # Module scope, so the end-to-end tests can share one running system per database kind.
        metafunc.parametrize("db_kind", _db_kinds(metafunc.config), scope="module")


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
