"""The scheduler's cost per tick with 1,000 schedules (issue 11). Prints medians.

    idle: 1,000 enabled schedules, none due: what every replica pays every second
          (two indexed queries: due schedules, firings due again)             (target < 20 ms)
    busy: the same, 10 of them due: each slot claimed, its schedule moved on, its firing
          recorded; no AWS call (their connection is gone, so each firing ends "failed"
          at once): the store's share of a tick that fires

Run with `.venv/bin/python bench/bench_scheduler.py [--database-url URL]` (SQLite file in a
temporary folder by default; a postgresql+psycopg:// URL measures PostgreSQL).
"""

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kbsync_core.aws import AwsClients
from kbsync_core.config import Settings
from kbsync_core.connections import Connections
from kbsync_core.scheduler import Scheduler
from kbsync_core.store import ExecutionStore
from kbsync_core.store.schedules import ORIGIN_API, ScheduleRecord
from kbsync_core.store.schema import schedules_table
from kbsync_core.timefmt import iso_utc

SCHEDULES = 1_000
BUSY = 10
RUNS = 25
NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)


def populate(store: ExecutionStore) -> None:
    """1,000 hourly schedules on 50 connections, none due within the bench's hours."""
    created = iso_utc(NOW - timedelta(days=1))
    for n in range(SCHEDULES):
        next_slot = NOW + timedelta(days=30, minutes=n % 59)
        store.schedules.insert(
            ScheduleRecord(
                id=str(uuid.uuid4()), connection_id=f"gone-{n % 50}", name=f"bench {n}",
                expression=f"{n % 60} * * * *", timezone="Europe/Madrid", start_at=None,
                end_at=None, enabled=True, next_slot_at=iso_utc(next_slot), origin=ORIGIN_API,
                created_at=created, updated_at=created,
            )
        )


def timed_ticks(url: str, due: int) -> list[float]:
    store = ExecutionStore(url)
    try:
        populate(store)
        clock = [NOW]
        settings = Settings(aws_max_attempts=1)
        clients = AwsClients(settings)
        connections = Connections(store.connections, clients)
        scheduler = Scheduler(
            store, connections, None, clients, "bench", clock=lambda: clock[0]
        )
        scheduler.tick()  # warm: the first query prepares the connection
        times = []
        for run in range(RUNS):
            clock[0] = NOW + timedelta(hours=run)
            if due:
                # `due` schedules made due again, each run an hour later: slots of its own.
                slot = clock[0] - timedelta(seconds=30)
                records = store.schedules.all()[:due]
                with store.engine.begin() as connection:
                    connection.execute(
                        schedules_table.update()
                        .where(schedules_table.c.id.in_([r.id for r in records]))
                        .values(next_slot_at=iso_utc(slot))
                    )
            started = time.perf_counter()
            report = scheduler.tick()
            times.append((time.perf_counter() - started) * 1000)
            assert report.claimed == due, report
        return times
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for due, label in ((0, "idle"), (BUSY, "busy")):
            url = arguments.database_url or f"sqlite:///{Path(folder) / f'{label}.sqlite3'}"
            times = timed_ticks(url, due)
            print(
                f"{label}: one tick with {SCHEDULES:,} schedules, {due} due: median "
                f"{statistics.median(times):.2f} ms, max {max(times):.2f} ms over {RUNS} ticks"
                + (" (target < 20 ms)" if due == 0 else "")
            )
            if arguments.database_url:
                break


if __name__ == "__main__":
    main()
