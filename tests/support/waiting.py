"""Waiting for background work in tests: poll a condition until it holds."""

import time

WAIT_SECONDS = 30
WAIT_POLL_SECONDS = 0.01


def wait_for(condition, timeout: float = WAIT_SECONDS):
    """Poll `condition()` until it returns something truthy, and return that; fail the test
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(WAIT_POLL_SECONDS)
    raise AssertionError(f"condition not reached in {timeout} s")
