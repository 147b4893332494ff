"""A database of intake's for a test, migrated as in production (``database_url_template``: each
kind of database in turn where a test is marked ``both_databases``)."""

from __future__ import annotations

import pytest

from shared.db import dispose_all, migrate, session_factory


@pytest.fixture
def intake_url(database_url_template, skipping_clock):
    """The URL of a fresh intake database migrated to head; its engines are disposed afterwards."""
    url = database_url_template.format(service="intake")
    migrate("intake", url)  # makes a PostgreSQL database first
    yield url
    dispose_all()


@pytest.fixture
def sessions(intake_url):
    """A session maker on :func:`intake_url`."""
    return session_factory(intake_url)
