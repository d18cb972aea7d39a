"""JSON API figures. A script that prints medians, not a timed test.

    GET /api/sync for one execution, 50 concurrent clients on keep-alive connections:
    requests per second, p50/p99 latency (target p99 < 50 ms) and the server's CPU time per
    request; beside the same figures for the yardstick, seed 000's own design (an in-memory
    map, bench/seed_design_app.py) on the same HTTP stack. Target: kbsync at least as fast.

It starts the real server (`streamlit run app.py`, on the sandbox, a fresh SQLite file) and
measures two executions: one that has ended (its logs complete), and one still running (a
slowed-down sandbox keeps it so), which is what seed 000's clients poll. 50 clients poll it at
once. The client is asyncio on raw sockets, to take as little of the machine's CPU as it can.

Run with `.venv/bin/python bench/bench_api.py [--runs N] [--seconds S]` (about a minute).
"""

import argparse
import asyncio
import importlib.util
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.servers import start_console

CLIENTS = 50
RUNS = 5
SECONDS_PER_RUN = 3.0
WARM_UP_SECONDS = 1.0
P99_TARGET_MS = 50.0
# A sandbox this slow keeps a sync running for the whole benchmark (a first sync takes 37
# simulated seconds: 740 real ones).
RUNNING_SANDBOX_SPEED = "0.05"
FAST_SANDBOX_SPEED = "100"
YARDSTICK_ENTRY = "bench/seed_design_app.py"
SEED_POLL_SECONDS = "4"
YARDSTICK_EXECUTION_ID = "seed-execution"
SYNC_BODY = {
    "region": "us-east-1",
    "knowledgeBaseId": "SANDBOXKB1",
    "dataSourceId": "SANDBOXDS1",
    "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
    "secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "description": "bench",
}


def started_execution(base_url: str, until_final: bool) -> str:
    """Start one sync; wait for its end (or for AWS to confirm its job); returns its id."""
    request = urllib.request.Request(  # noqa: S310 - our own server
        base_url + "/api/sync",
        data=json.dumps(SYNC_BODY).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310 - our own server
        execution_id = json.load(response)["executionId"]
    awaited = ("PENDIENTE", "EN_EJECUCION") if until_final else ("PENDIENTE",)
    while True:
        with urllib.request.urlopen(  # noqa: S310 - our own server
            f"{base_url}/api/sync?executionId={execution_id}"
        ) as response:
            if json.load(response)["status"] not in awaited:
                return execution_id
        time.sleep(0.05)


async def one_client(host, port, request: bytes, stop_at: float, latencies: list[float]):
    """Polls on one keep-alive connection until `stop_at`, recording each request's latency."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            )
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                raise RuntimeError(f"GET /api/sync answered {status}")
    finally:
        writer.close()


async def load(host, port, execution_id: str, seconds: float) -> tuple[int, list[float], float]:
    request = (
        f"GET /api/sync?executionId={execution_id} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nAccept: application/json\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(
        *(one_client(host, port, request, stop_at, latencies) for _ in range(CLIENTS))
    )
    return len(latencies), latencies, time.perf_counter() - started


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def server_stack() -> str:
    """What uvicorn runs on here: it picks httptools and uvloop whenever they are installed,
    and this benchmark's figures depend on them more than on anything kbsync does."""
    parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"{parser} parser, {loop} loop"


@dataclass
class Figures:
    rate: float  # requests per second
    p50_ms: float
    p99_ms: float
    cpu_ms: float  # server CPU time per request


def run_load(label: str, server, execution_id: str, runs: int, seconds: float) -> Figures:
    host, port = "127.0.0.1", server.port
    process = psutil.Process(server.process.pid)
    asyncio.run(load(host, port, execution_id, WARM_UP_SECONDS))
    rates, p50s, p99s, cpus = [], [], [], []
    for run in range(1, runs + 1):
        cpu_before = sum(process.cpu_times()[:2])
        count, latencies, elapsed = asyncio.run(load(host, port, execution_id, seconds))
        cpus.append((sum(process.cpu_times()[:2]) - cpu_before) / count * 1000)
        rates.append(count / elapsed)
        p50s.append(percentile(latencies, 0.50) * 1000)
        p99s.append(percentile(latencies, 0.99) * 1000)
        print(
            f"  {label} run {run}: {count} requests, {rates[-1]:5.0f} req/s, "
            f"p50 {p50s[-1]:5.1f} ms, p99 {p99s[-1]:5.1f} ms, {cpus[-1]:.3f} ms CPU/request"
        )
    figures = Figures(*(statistics.median(values) for values in (rates, p50s, p99s, cpus)))
    verdict = "ok" if figures.p99_ms < P99_TARGET_MS else f"OVER the {P99_TARGET_MS:.0f} ms target"
    print(
        f"GET /api/sync, {label}, {CLIENTS} concurrent clients, median of {runs} runs of "
        f"{seconds:g} s: {figures.rate:.0f} req/s, p50 {figures.p50_ms:.1f} ms, "
        f"p99 {figures.p99_ms:.1f} ms ({verdict}), {figures.cpu_ms:.3f} ms server CPU/request"
    )
    return figures


@contextmanager
def kbsync_server(sandbox_speed: str):
    # Polling AWS every 4 s, as seed 000 does (the test servers' 0.05 s would make the running
    # case measure 20 GetIngestionJob calls a second on the embedded sandbox, too).
    environment = {"KBSYNC_SANDBOX_SPEED": sandbox_speed, "KBSYNC_POLL_SECONDS": SEED_POLL_SECONDS}
    with (
        tempfile.TemporaryDirectory() as data_dir,
        start_console(Path(data_dir), environment) as server,
    ):
        yield server


def measure_kbsync(label, sandbox_speed, until_final, runs, seconds) -> Figures:
    with kbsync_server(sandbox_speed) as server:
        execution_id = started_execution(server.url, until_final)
        return run_load(f"kbsync, one {label} execution", server, execution_id, runs, seconds)


def measure_seed_design(runs, seconds) -> Figures:
    with (
        tempfile.TemporaryDirectory() as data_dir,
        start_console(Path(data_dir), entry=YARDSTICK_ENTRY, name="seed-design") as server,
    ):
        return run_load(
            "seed design (in-memory map, same stack)", server, YARDSTICK_EXECUTION_ID, runs,
            seconds,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--seconds", type=float, default=SECONDS_PER_RUN)
    arguments = parser.parse_args()
    print(f"uvicorn: {server_stack()}")
    runs, seconds = arguments.runs, arguments.seconds
    yardstick = measure_seed_design(runs, seconds)
    ended = measure_kbsync("ended", FAST_SANDBOX_SPEED, True, runs, seconds)
    running = measure_kbsync("running", RUNNING_SANDBOX_SPEED, False, runs, seconds)
    for label, figures in (("ended", ended), ("running", running)):
        print(
            f"kbsync / seed design, {label} execution: {figures.rate / yardstick.rate:.2f}x the "
            f"requests per second, p99 {figures.p99_ms:.1f} against {yardstick.p99_ms:.1f} ms, "
            f"{figures.cpu_ms:.3f} against {yardstick.cpu_ms:.3f} ms CPU/request"
        )


if __name__ == "__main__":
    main()
