"""Core figures for issue 2. A script that prints medians, not a timed test.

    merge: 1,000 AWS jobs + 1,000 local executions -> merged rows -> DataFrame  (target < 50 ms)
    store: the 50 newest executions of a data source, store holding 10,000        (target < 5 ms)

Run with `make bench` (or `.venv/bin/python bench/bench_core.py`).
"""

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kbsync_core.events import CREATED, log_event
from kbsync_core.history import aws_job_rows, merge_history
from kbsync_core.history_table import history_frame
from kbsync_core.models import Execution, ExecutionStatus, SyncTarget
from kbsync_core.store import ExecutionStore
from kbsync_core.timefmt import iso_utc

TARGET = SyncTarget("us-east-1", "BENCHKB001", "BENCHDS001")
OTHER_TARGETS = [SyncTarget("us-east-1", "BENCHKB001", f"BENCHDS{n:03d}") for n in range(2, 11)]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
RUNS = 15
STATISTICS = {
    "numberOfDocumentsScanned": 20, "numberOfMetadataDocumentsScanned": 5,
    "numberOfNewDocumentsIndexed": 3, "numberOfModifiedDocumentsIndexed": 1,
    "numberOfMetadataDocumentsModified": 0, "numberOfDocumentsDeleted": 0,
    "numberOfDocumentsFailed": 0,
}


def job_id(number: int) -> str:
    return f"JOB{number:07d}"


def make_local(number: int, target: SyncTarget = TARGET, with_job: bool = True) -> Execution:
    started = T0 + timedelta(minutes=number)
    return Execution(
        id=f"00000000-0000-4000-8000-{number:012d}",
        target=target,
        description="bench",
        status=ExecutionStatus.COMPLETADO,
        started_at=iso_utc(started),
        finished_at=iso_utc(started + timedelta(seconds=30)),
        job_id=job_id(number) if with_job else None,
        aws_status="COMPLETE",
        statistics=dict(STATISTICS),
        events=[log_event(CREATED, started)] * 6,
    )


def timed(function, runs: int = RUNS) -> float:
    durations = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations) * 1000


def bench_merge() -> float:
    # Half the local executions started jobs AWS lists; AWS lists 500 more of its own.
    local = [make_local(n, with_job=n % 2 == 0) for n in range(1000)]
    summaries = [
        {
            "knowledgeBaseId": TARGET.knowledge_base_id,
            "dataSourceId": TARGET.data_source_id,
            "ingestionJobId": job_id(n),
            "status": "COMPLETE",
            "startedAt": T0 + timedelta(minutes=n),
            "updatedAt": T0 + timedelta(minutes=n, seconds=30),
            "statistics": dict(STATISTICS),
        }
        for n in range(0, 2000, 2)
    ]
    retrieved_at = datetime.now(UTC)

    def merge():
        rows = merge_history(local, aws_job_rows(summaries, retrieved_at))
        frame = history_frame(rows)
        assert len(frame) == 1500

    return timed(merge)


def bench_store_read() -> float:
    with tempfile.TemporaryDirectory() as folder:
        store = ExecutionStore(f"sqlite:///{folder}/bench.sqlite3")
        for number in range(10_000):
            target = TARGET if number % 10 == 0 else OTHER_TARGETS[number % 9]
            store.add(make_local(number, target))
        newest = store.list_for_target(TARGET, limit=50)
        assert len(newest) == 50 and newest[0].started_at > newest[-1].started_at
        figure = timed(lambda: store.list_for_target(TARGET, limit=50), runs=50)
        store.close()
        return figure


def main() -> None:
    merge_ms = bench_merge()
    store_ms = bench_store_read()
    print(f"merge 1,000 AWS jobs + 1,000 local executions into a DataFrame: "
          f"median {merge_ms:.1f} ms over {RUNS} runs (target < 50 ms)")
    print(f"read the 50 newest executions of a data source from 10,000 stored: "
          f"median {store_ms:.2f} ms over 50 runs (target < 5 ms)")


if __name__ == "__main__":
    main()
