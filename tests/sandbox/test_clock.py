"""The simulated clock: speed changes keep the past where it was."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from kbsync_sandbox.clock import SimulatedClock


def test_simulated_time_runs_speed_times_faster_and_maps_back_to_real_time():
    clock = SimulatedClock(speed=100)
    time.sleep(0.05)
    assert 4 <= clock.now() < 50
    # Simulated second 2 happened 20 ms of real time after the clock started.
    started = clock.wall_time(0)
    assert clock.wall_time(2) - started == pytest.approx(
        timedelta(milliseconds=20), abs=timedelta(microseconds=1)
    )
    assert abs(started - datetime.now(UTC)) < timedelta(seconds=1)


def test_a_speed_change_moves_only_the_future():
    clock = SimulatedClock(speed=100)
    time.sleep(0.02)
    before = clock.now()
    second_one = clock.wall_time(1)
    clock.speed = 1
    assert clock.wall_time(1) == second_one
    assert clock.now() - before < 0.5  # at speed 1 time barely moved
    later = clock.wall_time(clock.now() + 1) - clock.wall_time(clock.now())
    assert later == pytest.approx(timedelta(seconds=1), abs=timedelta(milliseconds=5))


@pytest.mark.parametrize("speed", [0, -1])
def test_speed_must_be_positive(speed):
    with pytest.raises(ValueError):
        SimulatedClock(speed)
