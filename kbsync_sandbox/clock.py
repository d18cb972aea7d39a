"""A clock that runs `speed` times faster than real time, and can change speed while running.

Jobs are scheduled in simulated seconds; timestamps shown to clients are real wall-clock
times, so a console sees honest "started 2 s ago" values whatever the speed.
"""

import time
from datetime import UTC, datetime
from typing import NamedTuple


class _Segment(NamedTuple):
    monotonic_start: float
    simulated_start: float
    speed: float


def check_speed(speed: float) -> float:
    if not speed > 0:
        raise ValueError(f"speed must be a number greater than 0, not {speed!r}")
    return float(speed)


class SimulatedClock:
    def __init__(self, speed: float):
        now = time.monotonic()
        self._wall_epoch_at_start = time.time() - now
        # One segment per speed change, so past simulated instants keep their wall time.
        self._segments = [_Segment(now, 0.0, check_speed(speed))]

    @property
    def speed(self) -> float:
        return self._segments[-1].speed

    @speed.setter
    def speed(self, speed: float) -> None:
        speed = check_speed(speed)
        self._segments.append(_Segment(time.monotonic(), self.now(), speed))

    def now(self) -> float:
        """Simulated seconds since the clock was created."""
        segment = self._segments[-1]
        return (
            segment.simulated_start + (time.monotonic() - segment.monotonic_start) * segment.speed
        )

    def wall_time(self, simulated: float) -> datetime:
        """The real UTC time at which the simulated instant happened (or will happen)."""
        segment = next(s for s in reversed(self._segments) if simulated >= s.simulated_start)
        monotonic = segment.monotonic_start + (simulated - segment.simulated_start) / segment.speed
        return datetime.fromtimestamp(self._wall_epoch_at_start + monotonic, UTC)
