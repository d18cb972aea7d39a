"""When to ask AWS about a running job: a poll plan shaped by the sync's expected duration, and
a limiter that keeps every replica's GetIngestionJob calls within AWS's quota.

The plan. A fixed poll every P seconds (KBSYNC_POLL_SECONDS) sees a job's end P/2 late on
average and almost P late at worst, and makes about D/P calls for a sync of D seconds. When
the sync's duration can be expected (E: its data source's recent syncs), the same calls are
better spent where the end is likely:

    0 ............ E - spread ......... E + spread ...........
      slow (S > P)       fast (F < P)         fixed P again (the expectation was wrong)

The calls of the slow phase and half the fast phase's (a sync ends, on average, half-way
through the window) make E/P, what the fixed poll makes up to E; past the window the fixed
poll's own rhythm resumes, so a sync that overruns makes about as many calls as the fixed poll
would, and one that ends early fewer. The slow phase never goes quiet for more than
MAX_QUIET_SECONDS, so the log and the statistics still move. Without an expectation, or when
the budget leaves no room for a fast phase (a sync of a few seconds), it is the fixed poll.

The limiter. GetIngestionJob allows 10 requests per second per account (AWS's quota), shared
by every run of every replica. Each process spaces its calls per account key (region and
credentials) at rate / replicas, the replicas being those that hold leases on running syncs
(counted by the lease keeper, every few seconds): together they stay within the rate.
"""

import math
import threading
import time
from collections.abc import Callable
from datetime import datetime

from kbsync_core.models import (
    AwsCredentials,
    Execution,
)
from kbsync_core.progress import ended_at
from kbsync_core.timefmt import parse_iso

# The window of fast polls spans the expected end +- this share of the expected duration...
SPREAD_FRACTION = 0.2
# ... and never less than this share of the poll each side (2 s at 4 s: a short sync's
# durations vary too).
MIN_SPREAD_POLLS = 0.5
# Faster than this share of the poll (1 s at 4 s) buys little: the store write and the
# client's wake-up take their share.
MIN_FAST_POLLS = 0.25
# The slow phase asks at least this often: the statistics in the log keep moving.
MAX_QUIET_SECONDS = 30.0
# AWS's quota for GetIngestionJob: requests per second per account.
GET_INGESTION_JOB_QUOTA = 10.0
# Keys not used for this long are forgotten (their next slot is long past).
LIMITER_KEYS_KEPT = 1024


class PollPlan:
    """How long to wait before the next GetIngestionJob of one job, by the seconds since the
    job started. `expected_seconds`: the job's expected duration, None when unknown."""

    def __init__(self, poll_seconds: float, expected_seconds: float | None):
        self.poll_seconds = poll_seconds
        self.expected_seconds = expected_seconds
        self.window: tuple[float, float] | None = None
        self.fast_seconds = poll_seconds
        self.slow_seconds = poll_seconds
        if expected_seconds is not None and expected_seconds > 0:
            self._shape(expected_seconds)

    def _shape(self, expected: float) -> None:
        spread = max(MIN_SPREAD_POLLS * self.poll_seconds, SPREAD_FRACTION * expected)
        start, end = max(expected - spread, 0.0), expected + spread
        # The fixed poll's calls up to the expected end, with a margin for rounding and for
        # the syncs that overrun the window (durations are skewed long).
        budget = 0.95 * expected / self.poll_seconds - 1
        slow_calls = math.ceil(start / MAX_QUIET_SECONDS)  # the fewest the slow phase makes
        # A sync ends, on average, half-way through the window: half its calls are made.
        window_calls = 2 * (budget - slow_calls)
        if window_calls < 1:
            return  # no room for a fast phase: the fixed poll
        fast = max(MIN_FAST_POLLS * self.poll_seconds, (end - start) / window_calls)
        if fast >= self.poll_seconds:
            return
        window_calls = (end - start) / fast
        spare = budget - window_calls / 2
        slow = start / spare if spare > 0 else MAX_QUIET_SECONDS
        self.window = (start, end)
        self.fast_seconds = fast
        self.slow_seconds = min(max(slow, self.poll_seconds), MAX_QUIET_SECONDS)

    def wait_after(self, elapsed: float) -> float:
        """Seconds to wait, `elapsed` seconds after the job started, before the next poll."""
        if self.window is None:
            return self.poll_seconds
        start, end = self.window
        if elapsed < start:
            # Slow, but never past the window's start: the fast phase begins on time.
            return min(self.slow_seconds, max(start - elapsed, self.fast_seconds))
        if elapsed < end:
            return self.fast_seconds
        return self.poll_seconds

    def calls_for(self, duration: float, first_poll_at: float = 0.0) -> int:
        """How many polls this plan makes for a job that lasts `duration` seconds, the first
        one waited for at `first_poll_at` (what the budget tests and the bench count)."""
        elapsed, calls = first_poll_at, 0
        while True:
            elapsed += self.wait_after(elapsed)
            calls += 1
            if elapsed >= duration:
                return calls


def fixed_poll_calls(poll_seconds: float, duration: float) -> int:
    """What the fixed poll makes for a job of `duration` seconds: one call every P seconds
    until one sees the end."""
    return max(1, math.ceil(duration / poll_seconds))


def seconds_since(started_at: datetime | str | None, now: datetime) -> float:
    """Seconds from a job's start (AWS's startedAt, a datetime; or an ISO text) to `now`;
    0 when unknown or in the future (clocks disagree a little)."""
    if started_at is None:
        return 0.0
    if isinstance(started_at, str):
        started_at = parse_iso(started_at)
    return max((now - started_at).total_seconds(), 0.0)


def ended_after(execution: Execution) -> float:
    """Seconds from an ended sync's start to its job's end (kbsync_core.progress.ended_at)."""
    return seconds_since(execution.started_at, ended_at(execution))


def account_key(region: str, credentials: AwsCredentials) -> tuple[str, str]:
    """Which account's quota a call counts against, as far as kbsync can tell without asking
    AWS: the access key's (keys belong to one account), a role's account from its ARN, and
    otherwise the server's own identity, all of it counted as one account (the cautious
    guess: it may be fewer accounts than that, never more)."""
    if credentials.access_key_id:
        return region, f"key:{credentials.access_key_id}"
    if credentials.role_arn and credentials.role_arn.count(":") >= 5:
        return region, f"account:{credentials.role_arn.split(':')[4]}"
    return region, "server"


class PollRateLimiter:
    """Spaces the calls of this process per account key at `rate / replicas` per second (no
    bursts: two calls of one key are at least 1 / share apart), across every thread."""

    def __init__(
        self,
        rate_per_second: float = GET_INGESTION_JOB_QUOTA,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.rate_per_second = rate_per_second
        self._replicas = 1
        self._clock = clock
        self._next_slot: dict[tuple, float] = {}
        self._lock = threading.Lock()

    @property
    def share(self) -> float:
        """This process's calls per second per account."""
        return self.rate_per_second / self._replicas

    def set_replicas(self, replicas: int) -> None:
        """How many replicas poll now (this one included); each gets an equal share."""
        with self._lock:
            self._replicas = max(1, replicas)

    def reserve(self, key: tuple) -> float:
        """Book the key's next free slot; the seconds to wait until it."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot.get(key, now))
            self._next_slot[key] = slot + 1.0 / self.share
            if len(self._next_slot) > LIMITER_KEYS_KEPT:
                self._next_slot = {k: s for k, s in self._next_slot.items() if s > now}
            return slot - now

    def wait(self, key: tuple, interrupt: threading.Event | None = None) -> bool:
        """Wait for the key's next slot; False if `interrupt` was set meanwhile (the slot is
        given up: being short of the rate is safe)."""
        delay = self.reserve(key)
        if delay <= 0:
            return True
        if interrupt is None:
            time.sleep(delay)
            return True
        return not interrupt.wait(delay)
