"""JSON API figures. A script that prints medians, not a timed test.

    GET /api/sync for one execution, 50 concurrent clients on keep-alive connections:
    requests per second, p50/p99 latency (target p99 < 50 ms) and the server's CPU time per
    request; beside the same figures for the yardstick, seed 000's own design (an in-memory
    map, bench/seed_design_app.py) on the same HTTP stack. Target: kbsync at least as fast.

It starts three real servers: the yardstick, and kbsync (`streamlit run app.py`, on the sandbox,
a fresh SQLite file) twice, for an execution that has ended (its logs complete) and for one
still running (a slowed-down sandbox keeps it so), which is what seed 000's clients poll. Each
round loads each server in turn, so the machine's drift hits all three alike; the ratio to the
yardstick is the median of the rounds' ratios. The client is asyncio on raw sockets, to take as
little of the machine's CPU as it can.

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
from contextlib import ExitStack
from dataclasses import dataclass, field
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
SLOW_SPEED = "0.05"
FAST_SPEED = "100"
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
class Sample:
    rate: float  # requests per second
    p50_ms: float
    p99_ms: float
    cpu_ms: float  # server CPU time per request


@dataclass
class Target:
    """One server under load: what it is, where, and which execution its clients poll."""

    label: str
    server: object
    execution_id: str
    samples: list[Sample] = field(default_factory=list)

    def median(self, name: str) -> float:
        return statistics.median(getattr(sample, name) for sample in self.samples)


def measure(target: Target, seconds: float) -> Sample:
    process = psutil.Process(target.server.process.pid)
    cpu_before = sum(process.cpu_times()[:2])
    count, latencies, elapsed = asyncio.run(
        load("127.0.0.1", target.server.port, target.execution_id, seconds)
    )
    return Sample(
        rate=count / elapsed,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        cpu_ms=(sum(process.cpu_times()[:2]) - cpu_before) / count * 1000,
    )


def kbsync_environment(sandbox_speed: str) -> dict[str, str]:
    # Polling AWS every 4 s, as seed 000 does (the test servers' 0.05 s would make the running
    # case measure 20 GetIngestionJob calls a second on the embedded sandbox, too).
    return {"KBSYNC_SANDBOX_SPEED": sandbox_speed, "KBSYNC_POLL_SECONDS": SEED_POLL_SECONDS}


def start_targets(stack: ExitStack) -> list[Target]:
    def data_dir() -> Path:
        return Path(stack.enter_context(tempfile.TemporaryDirectory()))

    seed = stack.enter_context(start_console(data_dir(), entry=YARDSTICK_ENTRY, name="seed"))
    ended = stack.enter_context(start_console(data_dir(), kbsync_environment(FAST_SPEED)))
    running = stack.enter_context(start_console(data_dir(), kbsync_environment(SLOW_SPEED)))
    return [
        Target("seed design (in-memory map, same stack)", seed, YARDSTICK_EXECUTION_ID),
        Target("kbsync, one ended execution", ended, started_execution(ended.url, True)),
        Target("kbsync, one running execution", running, started_execution(running.url, False)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--seconds", type=float, default=SECONDS_PER_RUN)
    arguments = parser.parse_args()
    print(f"uvicorn: {server_stack()}")
    with ExitStack() as stack:
        targets = start_targets(stack)
        for target in targets:
            asyncio.run(
                load("127.0.0.1", target.server.port, target.execution_id, WARM_UP_SECONDS)
            )
        # Round after round, each server in turn: the machine's drift hits all three alike.
        for run in range(1, arguments.runs + 1):
            for target in targets:
                sample = measure(target, arguments.seconds)
                target.samples.append(sample)
                print(
                    f"  run {run}, {target.label}: {sample.rate:5.0f} req/s, p50 "
                    f"{sample.p50_ms:5.1f} ms, p99 {sample.p99_ms:5.1f} ms, "
                    f"{sample.cpu_ms:.3f} ms CPU/request"
                )
    for target in targets:
        p99 = target.median("p99_ms")
        verdict = "ok" if p99 < P99_TARGET_MS else f"OVER the {P99_TARGET_MS:.0f} ms target"
        print(
            f"GET /api/sync, {target.label}, {CLIENTS} concurrent clients, median of "
            f"{arguments.runs} runs of {arguments.seconds:g} s: {target.median('rate'):.0f} "
            f"req/s, p50 {target.median('p50_ms'):.1f} ms, p99 {p99:.1f} ms ({verdict}), "
            f"{target.median('cpu_ms'):.3f} ms server CPU/request"
        )
    yardstick = targets[0]
    for target in targets[1:]:
        rounds = zip(target.samples, yardstick.samples, strict=True)
        ratios = [mine.rate / theirs.rate for mine, theirs in rounds]
        print(
            f"{target.label} / seed design: {statistics.median(ratios):.2f}x the requests per "
            f"second (median of the {len(ratios)} rounds' ratios), server CPU per request "
            f"{target.median('cpu_ms'):.3f} against {yardstick.median('cpu_ms'):.3f} ms"
        )


if __name__ == "__main__":
    main()
