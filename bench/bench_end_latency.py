"""From AWS's end of a sync to the client seeing it (issue 11, "seeing the end sooner"). A script
that prints figures, not a timed test.

Syncs run on the embedded sandbox, four data sources at a time, each sync after a random
0-4 documents of its bucket changed (so durations scatter, about 17-25 simulated seconds, as
a real data source's do). For each sync two API clients watch over HTTP: one long-polling
(`GET /api/sync?wait=30&since=<log lines>`), one polling every 2 s as seed 000's does. The
sandbox knows when it ended the job (the final status's updatedAt); each client notes when it
first saw the end. Two rounds: today's fixed poll (KBSYNC_POLL_SECONDS=4) and the adaptive
plan (kbsync_core/polling.py, expecting each data source's median recent duration).

Time is sped up SPEED times (the sandbox's clock, the poll, the clients' period and the quota
alike) and every figure is scaled back to Bedrock's seconds: the HTTP and store overheads are
scaled up with them, so the figures err on the slow side.

Run with `.venv/bin/python bench/bench_end_latency.py [--syncs N] [--speed S]` (about 2 min).
"""

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import boto3
import uvicorn
from starlette.applications import Starlette

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kbsync_api.routes import api_routes
from kbsync_core.config import Settings
from kbsync_core.polling import fixed_poll_calls
from kbsync_core.runtime import Kbsync, install_kbsync
from kbsync_sandbox import SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_REGION
from kbsync_sandbox.content import handbook_documents
from tests.support.servers import free_port

SPEED = 4.0
POLL_SECONDS = 4.0  # KBSYNC_POLL_SECONDS, Bedrock's seconds
CLIENT_POLL_SECONDS = 2.0  # seed 000's client
QUOTA = 10.0
DATA_SOURCES = [f"BENCHDS{n:03d}" for n in range(1, 5)]
WARM_UP_SYNCS = 3  # per data source, before measuring: its expected duration needs a history
FINAL = ("COMPLETADO", "FALLIDO", "DETENIDO")


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - our own server
        return json.load(response)


def post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(  # noqa: S310 - our own server
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return json.load(response)


@contextmanager
def api_server(kbsync: Kbsync):
    install_kbsync(kbsync)
    port = free_port()
    config = uvicorn.Config(
        Starlette(routes=api_routes()), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        install_kbsync(None)


def long_poll_client(base: str, execution_id: str, seen: dict) -> None:
    logs = 0
    while True:
        execution = get_json(f"{base}/api/sync?executionId={execution_id}&wait=30&since={logs}")
        if execution["status"] in FINAL:
            seen["long_poll"] = time.time()
            return
        logs = len(execution["logs"])


def polling_client(base: str, execution_id: str, seen: dict, period: float) -> None:
    while True:
        if get_json(f"{base}/api/sync?executionId={execution_id}")["status"] in FINAL:
            seen["poll_2s"] = time.time()
            return
        time.sleep(period)


def touch_documents(rng: random.Random, bucket: str, count: int) -> None:
    s3 = boto3.client("s3", region_name=SANDBOX_REGION)
    keys = [k for k in handbook_documents() if not k.endswith(".metadata.json")]
    for key in rng.sample(keys, count):
        s3.put_object(Bucket=bucket, Key=key, Body=f"# changed {rng.random()}\n".encode())


def one_sync(kbsync, base, data_source_id, bucket, rng, measure: bool) -> dict | None:
    touch_documents(rng, bucket, rng.randint(0, 4))
    body = {
        "region": SANDBOX_REGION,
        "knowledgeBaseId": SANDBOX_KNOWLEDGE_BASE_ID,
        "dataSourceId": data_source_id,
        "accessKeyId": "AKIAKBSYNCBENCHEND01",
        "secretAccessKey": "bench-end-latency-secret-0123456789",
        "description": "bench",
    }
    execution_id = post_json(base + "/api/sync", body)["executionId"]
    seen: dict[str, float] = {}
    clients = [
        threading.Thread(target=long_poll_client, args=(base, execution_id, seen)),
        threading.Thread(
            target=polling_client, args=(base, execution_id, seen, CLIENT_POLL_SECONDS / SPEED)
        ),
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    if not measure:
        return None
    execution = kbsync.store.get(execution_id)
    job = boto3.client("bedrock-agent", region_name=SANDBOX_REGION).get_ingestion_job(
        knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID,
        dataSourceId=data_source_id,
        ingestionJobId=execution.job_id,
    )["ingestionJob"]
    ended = job["updatedAt"].timestamp()
    duration = (job["updatedAt"] - job["startedAt"]).total_seconds()
    return {
        "job_id": execution.job_id,
        "duration": duration * SPEED,
        "long_poll": (seen["long_poll"] - ended) * SPEED,
        "poll_2s": (seen["poll_2s"] - ended) * SPEED,
    }


def run_round(adaptive: bool, syncs: int, work_dir: str, seed: int) -> dict:
    settings = Settings(
        backend="sandbox",
        database_url=f"sqlite:///{work_dir}/{'adaptive' if adaptive else 'fixed'}.sqlite3",
        poll_seconds=POLL_SECONDS / SPEED,
        poll_quota=QUOTA * SPEED,
        sandbox_speed=SPEED,
    )
    kbsync = Kbsync.open(settings)
    if not adaptive:
        # Today's fixed poll: no expected duration (the process's own is kbsync.progress's).
        kbsync.engine.expected_seconds = None
    rng = random.Random(seed)  # noqa: S311 - reproducible scatter, no secret
    buckets = {ds: kbsync.sandbox.add_data_source(ds, handbook_documents()) for ds in DATA_SOURCES}
    results: list[dict] = []
    lock = threading.Lock()
    try:
        with api_server(kbsync) as base:

            def data_source_worker(data_source_id: str, count: int, worker_seed: int) -> None:
                local_rng = random.Random(worker_seed)  # noqa: S311
                for number in range(WARM_UP_SYNCS + count):
                    result = one_sync(
                        kbsync,
                        base,
                        data_source_id,
                        buckets[data_source_id],
                        local_rng,
                        measure=number >= WARM_UP_SYNCS,
                    )
                    if result:
                        with lock:
                            results.append(result)

            per_source = max(1, syncs // len(DATA_SOURCES))
            workers = [
                threading.Thread(
                    target=data_source_worker, args=(ds, per_source, rng.randrange(1 << 30))
                )
                for ds in DATA_SOURCES
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        gets = [
            call.parameters.get("ingestionJobId")
            for call in kbsync.sandbox.call_log
            if call.operation == "GetIngestionJob"
        ]
    finally:
        kbsync.close()
    for result in results:
        result["calls"] = gets.count(result["job_id"])
        result["fixed_calls"] = fixed_poll_calls(POLL_SECONDS, result["duration"])
    return {"results": results}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(name: str, results: list[dict]) -> None:
    print(
        f"{name}: {len(results)} syncs, durations {min(r['duration'] for r in results):.1f}-"
        f"{max(r['duration'] for r in results):.1f} s"
    )
    for client in ("long_poll", "poll_2s"):
        values = [r[client] for r in results]
        print(
            f"   {client:9}: p50 {percentile(values, 0.5):.2f} s, "
            f"p95 {percentile(values, 0.95):.2f} s, max {max(values):.2f} s"
        )
    calls = statistics.mean(r["calls"] for r in results)
    fixed = statistics.mean(r["fixed_calls"] for r in results)
    print(f"   GetIngestionJob per sync: {calls:.2f} (a fixed 4 s poll: {fixed:.2f})")


def main() -> None:
    global SPEED
    parser = argparse.ArgumentParser()
    parser.add_argument("--syncs", type=int, default=24, help="measured syncs per round")
    parser.add_argument("--speed", type=float, default=SPEED)
    arguments = parser.parse_args()
    SPEED = arguments.speed
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as work_dir:
        fixed = run_round(False, arguments.syncs, work_dir, seed=11)
        adaptive = run_round(True, arguments.syncs, work_dir, seed=11)
    print(f"Bedrock's seconds (time sped up {SPEED:g}x, figures scaled back):")
    report("fixed 4 s poll (today)", fixed["results"])
    report("adaptive poll", adaptive["results"])
    target = percentile([r["long_poll"] for r in adaptive["results"]], 0.95)
    print(f"target: p95 <= 2.5 s with the long poll: {'met' if target <= 2.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
