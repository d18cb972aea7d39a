"""Shared fixtures: every test that talks to "AWS" stands on the sandbox."""

import itertools
from collections.abc import Iterator

import pytest

from kbsync_core.config import Settings

FAST_POLL_SECONDS = 0.02
TEST_SECRET = "tEsTsEcReT/kbsync+DoNotLeak0123456789abcd"
TEST_SESSION_TOKEN = "FwoGZXIvYXdzEBYaDkbsyncSessionTokenDoNotLeak"


@pytest.fixture
def sandboxed():
    """A fresh simulated AWS, fast: a 30 s sandbox sync takes a fraction of a second."""
    from kbsync_sandbox import sandbox

    with sandbox(speed=200) as simulated:
        yield simulated


@pytest.fixture
def fast_settings(tmp_path) -> Settings:
    return Settings(
        backend="sandbox",
        database_url=f"sqlite:///{tmp_path}/kbsync.sqlite3",
        poll_seconds=FAST_POLL_SECONDS,
        sandbox_speed=200,  # for a Kbsync that opens its own sandbox
        aws_max_attempts=1,  # let the engine itself see each transient error
    )


# -- PostgreSQL -----------------------------------------------------------------------------
# One throwaway cluster per test run (tests/support/postgres.py), started only when a test asks
# for a PostgreSQL database; each such test gets a database of its own, dropped afterwards.

_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server():
    """The test run's PostgreSQL cluster (a PostgresServer); skips the test if PostgreSQL is
    not installed here."""
    from tests.support.postgres import PostgresUnavailable, start_postgres

    try:
        server = start_postgres()
    except PostgresUnavailable as unavailable:
        pytest.skip(f"PostgreSQL tests skipped: {unavailable}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> Iterator[str]:
    """The SQLAlchemy URL of a fresh, empty PostgreSQL database, for this test only:
    postgresql+psycopg://postgres@127.0.0.1:<port>/<name>."""
    name = f"test_{next(_database_numbers)}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """The URL of a fresh, empty database: a test that takes it runs once on SQLite and once
    on PostgreSQL (ids `sqlite` and `postgresql`)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/kbsync.sqlite3"
    return request.getfixturevalue("postgres_url")
