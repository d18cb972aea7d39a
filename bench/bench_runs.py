"""Figures for runs, leases and replicas. A script that prints medians, not a timed test.

    lease overhead: one worker checkpoint (renew the lease, read stop requests), the step a
        sync adds to every poll, on a SQLite file and on PostgreSQL
    takeover: kill -9 of the replica watching a sync, to the first GetIngestionJob of the
        replica that takes it over (two consoles on PostgreSQL, KBSYNC_LEASE_SECONDS=5, so at
        most two lease periods: 10 s)
    memory per key set: resident memory of one process reading a data source's history with
        1,500 distinct key sets (bounded: the history cache and the AWS clients keep the newest
        256); today's main grew +0.41 MB per key set, without end
    idle resident memory of a process on real AWS (target < 100 MB)

Run with `.venv/bin/python bench/bench_runs.py` (about three minutes). PostgreSQL 15 must be
installed (`make test` installs it); the script starts a throwaway cluster of its own.
"""

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kbsync_core.config import Settings
from kbsync_core.models import AwsCredentials, Execution, ExecutionStatus, SyncTarget
from kbsync_core.runs import RunCoordinator, Worker
from kbsync_core.runtime import Kbsync
from kbsync_core.store import ExecutionStore
from kbsync_core.validation import HistoryRequest
from tests.support.postgres import start_postgres
from tests.support.servers import start_console, start_sandbox_server

TARGET = SyncTarget("us-east-1", "SANDBOXKB1", "SANDBOXDS1")
CHECKPOINTS = 2000
TAKEOVER_RUNS = 5
TAKEOVER_LEASE_SECONDS = "5"
KEY_SETS = 1500
IDLE_RUNS = 3
SYNC_BODY = {
    "region": "us-east-1", "knowledgeBaseId": "SANDBOXKB1", "dataSourceId": "SANDBOXDS1",
    "accessKeyId": "AKIAKBSYNCBENCHRUNS1", "secretAccessKey": "bench-runs-secret-0123456789",
}


def post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(  # noqa: S310 - our own server
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310 - our own server
        return json.load(response)


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url) as response:  # noqa: S310 - our own server
        return json.load(response)


def lease_overhead(label: str, url: str) -> None:
    store = ExecutionStore(url)
    coordinator = RunCoordinator(store.runs, "bench-replica", 30)
    run_id = "00000000-0000-4000-8000-00000000be01"
    lease = coordinator.lease_for(run_id)
    store.add(
        Execution(run_id, TARGET, "bench", ExecutionStatus.EN_EJECUCION,
                  "2026-11-30T10:00:00.000Z"),
        lease=lease,
    )
    worker = Worker(lease, AwsCredentials())
    timings = []
    for _ in range(CHECKPOINTS):
        started = time.perf_counter()
        coordinator.checkpoint(worker)
        timings.append(time.perf_counter() - started)
    store.close()
    print(
        f"lease overhead per poll ({label}): median {statistics.median(timings) * 1000:.2f} ms, "
        f"p99 {sorted(timings)[int(0.99 * len(timings))] * 1000:.2f} ms "
        f"over {CHECKPOINTS} checkpoints (a poll is every KBSYNC_POLL_SECONDS, 4 s by default)"
    )


def first_poll_by(sandbox_url: str, job_id: str, pid: int) -> float | None:
    calls = get_json(f"{sandbox_url}/_kbsync_sandbox/calls?operation=GetIngestionJob")["calls"]
    times = [
        call["at"] for call in calls
        if call["parameters"].get("ingestionJobId") == job_id and f"-{pid}-" in call["userAgent"]
    ]
    return min(times) if times else None


def takeover_times(postgres, work_dir: Path) -> None:
    sandbox = start_sandbox_server(work_dir / "sandbox", speed=1.0)
    database = postgres.create_database("bench_takeover")
    environment = {
        "KBSYNC_BACKEND": "aws",
        "AWS_ENDPOINT_URL_BEDROCK_AGENT": sandbox.url,
        "AWS_EC2_METADATA_DISABLED": "true",
        "KBSYNC_DATABASE_URL": database,
        "KBSYNC_LEASE_SECONDS": TAKEOVER_LEASE_SECONDS,
        "KBSYNC_POLL_SECONDS": "0.5",
        "KBSYNC_ALLOW_AMBIENT_CREDENTIALS": "true",
        "AWS_ACCESS_KEY_ID": "AKIAKBSYNCBENCHPROC1",
        "AWS_SECRET_ACCESS_KEY": "bench-process-identity-0123456789",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    replicas = [
        start_console(work_dir / name, environment, name=name) for name in ("first", "second")
    ]
    measured = []
    try:
        for run in range(1, TAKEOVER_RUNS + 1):
            owner, other = replicas[(run - 1) % 2], replicas[run % 2]
            execution_id = post_json(owner.url + "/api/sync", SYNC_BODY)["executionId"]
            while not (job_id := get_json(
                f"{owner.url}/api/sync?executionId={execution_id}"
            ).get("jobId")):
                time.sleep(0.1)
            owner.kill()
            killed_at = time.time()
            while (taken_at := first_poll_by(sandbox.url, job_id, other.process.pid)) is None:
                time.sleep(0.1)
            measured.append(taken_at - killed_at)
            print(f"  takeover run {run}: {measured[-1]:.2f} s")
            post_json(sandbox.url + "/_kbsync_sandbox/finish-running-jobs", {})
            owner.start()
        print(
            f"start-to-takeover after kill -9, KBSYNC_LEASE_SECONDS={TAKEOVER_LEASE_SECONDS}: "
            f"median {statistics.median(measured):.2f} s of {TAKEOVER_RUNS} "
            f"(at most two lease periods: {2 * float(TAKEOVER_LEASE_SECONDS):.0f} s)"
        )
    finally:
        for replica in replicas:
            replica.stop()
        sandbox.stop()
        postgres.drop_database("bench_takeover")


def memory_per_key_set(work_dir: Path) -> None:
    settings = Settings(
        backend="sandbox", database_url=f"sqlite:///{work_dir}/memory.sqlite3",
        sandbox_speed=100,
    )
    kbsync = Kbsync.open(settings)
    process = psutil.Process()
    try:
        figures = []
        for number in range(1, KEY_SETS + 1):
            credentials = AwsCredentials.from_keys(
                f"AKIAKBSYNCBENCH{number:05d}", f"bench-secret-{number:05d}-0123456789abcdef"
            )
            kbsync.history.read(HistoryRequest(TARGET, credentials, 30))
            if number in (100, 500, 1000, KEY_SETS):
                gc.collect()
                figures.append((number, process.memory_info().rss / 1e6))
        for number, rss in figures:
            print(f"  after {number:5d} key sets: {rss:6.1f} MB resident")
        (first_n, first_rss), (last_n, last_rss) = figures[1], figures[-1]
        print(
            f"memory per key set, from {first_n} to {last_n} distinct key sets: "
            f"{(last_rss - first_rss) / (last_n - first_n) * 1000:+.1f} KB per key set "
            "(bounded: the newest 256 are kept)"
        )
    finally:
        kbsync.close()


def idle_memory(work_dir: Path) -> None:
    figures = []
    environment = {"KBSYNC_BACKEND": "aws", "AWS_EC2_METADATA_DISABLED": "true"}
    server = start_console(work_dir / "idle", environment, name="idle")  # creates the schema
    try:
        for _ in range(IDLE_RUNS):
            server.restart()
            urllib.request.urlopen(server.url + "/api/health").read()  # noqa: S310
            time.sleep(2)
            figures.append(psutil.Process(server.process.pid).memory_info().rss / 1e6)
    finally:
        server.stop()
    print(
        f"idle resident memory of a process on real AWS (KBSYNC_BACKEND=aws): median "
        f"{statistics.median(figures):.0f} MB of {IDLE_RUNS} starts (target < 100 MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only", choices=["lease", "takeover", "memory", "idle"], help="one figure only"
    )
    only = parser.parse_args().only
    with tempfile.TemporaryDirectory() as work:
        work_dir = Path(work)
        if only in (None, "idle"):
            idle_memory(work_dir)
        if only in (None, "lease", "takeover"):
            with start_postgres() as postgres:
                if only in (None, "lease"):
                    lease_overhead("SQLite file", f"sqlite:///{work_dir}/lease.sqlite3")
                    lease_overhead("PostgreSQL", postgres.create_database("bench_lease"))
                if only in (None, "takeover"):
                    takeover_times(postgres, work_dir)
        if only in (None, "memory"):
            memory_per_key_set(work_dir)


if __name__ == "__main__":
    main()
