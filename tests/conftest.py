"""Shared fixtures: every test that talks to "AWS" stands on the sandbox."""

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
