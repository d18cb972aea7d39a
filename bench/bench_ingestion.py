"""Ingestion jobs (issue 12): 10,000 generic-json records through each path, the same 10,000
again unchanged, and the memory a 30 MB payload takes. Prints medians.

    custom:    10,000 records into the sandbox's CUSTOM data source (sandbox-custom): records
               per second, and the ratio to Bedrock's own ceiling at the rate used (5 requests
               per second x 10 documents = 50 documents per second at Bedrock's quota; the
               sandbox runs --speed times faster, and kbsync's limiter with it)
    s3:        10,000 records into an S3 data source: objects and sidecars written, one sync
    unchanged: the same 10,000 again (adapter, staging, hash comparison, all skipped, no
               call)                                                          (target < 2 s)
    memory:    tracemalloc's peak from the payload's bytes to the job staged (JSON parsed, the
               adapter's Documents, the records written, the payload kept compressed), for a
               30 MB payload                                         (target < 5x the payload)

Run with `.venv/bin/python bench/bench_ingestion.py [--speed 20] [--runs 3]` (SQLite file in a
temporary folder; the embedded sandbox).
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kbsync_core.config import Settings
from kbsync_core.ingestion.custom import MAX_DOCUMENTS_PER_CALL
from kbsync_core.runtime import Kbsync
from kbsync_sandbox import SANDBOX_KNOWLEDGE_BASE_ID

RECORDS = 10_000
PAYLOAD_BYTES = 30 * 1024 * 1024
BEDROCK_REQUESTS_PER_SECOND = 5


def payload(count: int, body_bytes: int = 200, salt: str = "") -> dict:
    filler = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. "
    body = (filler * (body_bytes // len(filler) + 1))[:body_bytes]
    return {
        "records": [
            {
                "id": f"record-{n}",
                "title": f"Record {n}",
                "content": f"# Record {n}{salt}\n\n{body}",
                "contentType": "markdown",
                "metadata": {"author": "bench", "number": n},
                "tags": ["bench", "ingestion"],
            }
            for n in range(count)
        ]
    }


def run_job(kbsync: Kbsync, target: str, data: dict, data_source_id=None, timeout=3600) -> tuple:
    started = time.perf_counter()
    job = kbsync.ingestion.create(target, "generic-json", data, data_source_id=data_source_id)
    ended = kbsync.ingestion.wait(job.id, timeout)
    seconds = time.perf_counter() - started
    assert ended.status == "completed", (ended.status, ended.error)
    return seconds, ended


def bench_custom(kbsync: Kbsync, speed: float, runs: int) -> None:
    rate = kbsync.settings.ingest_rate
    figures = []
    kbsync.sandbox.clear_calls()
    for run in range(runs):
        seconds, job = run_job(kbsync, "sandbox-custom", payload(RECORDS, salt=f"-{run}"))
        assert job.successful == RECORDS, job
        figures.append(seconds)
    seconds = statistics.median(figures)
    counts = kbsync.sandbox.call_counts
    print(
        f"           calls per run: {counts.get('IngestKnowledgeBaseDocuments', 0) / runs:.0f} "
        f"Ingest, {counts.get('GetKnowledgeBaseDocuments', 0) / runs:.0f} Get"
    )
    per_second = RECORDS / seconds
    ceiling = rate * MAX_DOCUMENTS_PER_CALL
    print(
        f"custom:    {RECORDS:,} records in {seconds:.1f} s = {per_second:.0f} records/s at "
        f"{rate:g} requests/s (sandbox x{speed:g}); ratio to the ceiling of {rate:g} x "
        f"{MAX_DOCUMENTS_PER_CALL} = {ceiling:g} docs/s: {per_second / ceiling:.2f} "
        f"(at Bedrock's {BEDROCK_REQUESTS_PER_SECOND}/s: ~{per_second / ceiling * 50:.0f} of "
        "50 docs/s)"
    )
    unchanged = []
    for _ in range(runs):
        seconds, job = run_job(kbsync, "sandbox-custom", payload(RECORDS, salt=f"-{runs - 1}"))
        assert job.skipped == RECORDS, job
        unchanged.append(seconds)
    print(f"unchanged: {RECORDS:,} records all skipped in {statistics.median(unchanged):.2f} s")


def bench_s3(kbsync: Kbsync, runs: int) -> None:
    data_source_id = "BENCHS3001"
    kbsync.sandbox.add_data_source(data_source_id, {})
    figures = []
    for run in range(runs):
        seconds, job = run_job(
            kbsync, SANDBOX_KNOWLEDGE_BASE_ID, payload(RECORDS, salt=f"-{run}"), data_source_id
        )
        assert job.successful == RECORDS, job
        figures.append(seconds)
    seconds = statistics.median(figures)
    print(
        f"s3:        {RECORDS:,} records in {seconds:.1f} s = {RECORDS / seconds:.0f} records/s "
        f"(sandbox x{kbsync.sandbox.speed:g}: 20,000 objects written to moto's S3, one sync)"
    )


def bench_memory(kbsync: Kbsync, runs: int) -> None:
    count = PAYLOAD_BYTES // 3100
    raw = json.dumps(payload(count, body_bytes=3000)).encode()
    ratios = []
    for _ in range(runs):
        tracemalloc.start()
        tracemalloc.reset_peak()
        body = bytes(raw)  # the upload as the API receives it
        job = kbsync.ingestion.create("sandbox-custom", "generic-json", json.loads(body))
        del body
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        kbsync.ingestion.cancel(job.id)
        kbsync.ingestion.wait(job.id, 60)
        ratios.append(peak / len(raw))
    print(
        f"memory:    a {len(raw) / 1024 / 1024:.0f} MB payload ({count:,} records) peaks at "
        f"{statistics.median(ratios):.1f}x the payload from its bytes to the job staged"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=("custom", "s3", "memory"))
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            database_url=f"sqlite:///{folder}/bench.sqlite3",
            sandbox_speed=options.speed,
            # The sandbox allows Bedrock's 5 writes per simulated second.
            ingest_rate=BEDROCK_REQUESTS_PER_SECOND * options.speed,
            poll_seconds=4.0 / options.speed,
        )
        kbsync = Kbsync.open(settings)
        try:
            if options.only in (None, "custom"):
                bench_custom(kbsync, options.speed, options.runs)
            if options.only in (None, "memory"):
                bench_memory(kbsync, options.runs)
            if options.only in (None, "s3"):
                kbsync.sandbox.speed = 1000
                bench_s3(kbsync, 1)
        finally:
            kbsync.close()


if __name__ == "__main__":
    main()
