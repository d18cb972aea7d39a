"""Console figures. A script that prints medians, not a timed test.

Run with `.venv/bin/python bench/bench_console.py` (about 2 minutes on 2 cores). Everything runs
on the sandbox, with a SQLite file store in a temporary folder; nothing leaves the machine.

1. refresh: one refresh of the status fragment, store holding 10,000 executions, 5 running
   (target < 25 ms).
   Set-up: 10,000 finished executions (ExecutionStore.add, 9-14 log lines each, 40 data sources
   in 2 regions and 4 knowledge bases, some FALLIDO with failure reasons, some DETENIDO); then
   5 syncs really running on the sandbox at speed 1 (started through the engine, 4 directly and
   one with the Sync page's "Start sync" button; they stay IN_PROGRESS for over a minute, and
   the script checks they still run after measuring).
   The AppTest session shows the Sync page with its running execution, so the page registers
   the `st.fragment(run_every=2)` of kbsync_ui/execution_panel.py. A refresh is then replayed
   the way the browser's timer asks for it: the RerunData of `at.run()` is given that
   fragment's id (fragment_id_queue, is_auto_rerun), so Streamlit's ScriptRunner reruns that
   fragment only, as the server does every 2 s. Timed, each median over the runs:
     - headline: ScriptRunner._run_script for that fragment rerun, i.e. the server's work for
       one refresh: run context reset, fragment lookup, the fragment body, its deltas queued,
       end-of-run bookkeeping. Not included: protobuf serialisation and the websocket write
       (the serialisation of the deltas is timed and printed apart);
     - the fragment body alone (`_live_panel`: `_panel` reads the execution with
       engine.get and renders it), and of it the store read alone;
     - the same again once the running execution has the log of an hour-long sync (900 more
       "Estado actual" lines appended with ExecutionStore.record, as the engine appends them);
     - for comparison, a whole-page rerun of the Sync page (`at.run()` wall time, AppTest's
       own overhead included), which is NOT what the timer does.

2. history: one History page run at 10,000 stored executions of the data source (target
   < 300 ms), and one with 1,000 rows.
   The real page: 10,000 finished executions of SANDBOXDS1 stored (ExecutionStore.add, as in
   1., all older than the syncs below), then 120 real sandbox syncs of SANDBOXDS1 (60 by
   kbsync, 60 started outside it, so the table mixes LOCAL and AWS rows). The page runs with
   Max results 30 (the default) and 100 (its maximum), reading AWS from the 15 s cache, and
   with "Refresh from AWS" clicked. The store is read with one limited query (the newest Max
   results executions of the data source), never the 10,000.
   The page caps maxResults at 100 (the API contract), so no real page run shows 1,000 rows.
   The 1,000-row figure runs the real page script (app.py, sidebar, app_pages/history.py)
   with `kbsync.history.read` replaced by the same work it does on an AWS-cache hit: read the
   newest 1,000 local executions of another data source from the store (1,000 stored) and
   merge them with 1,000 cached AWS job summaries (500 of them the local executions' jobs)
   into 1,000 rows. Everything after that is the page's own code on 1,000 rows:
   history_frame, filter_history, the st.dataframe table, the CSV download, the charts.
   Timed: ScriptRunner._run_script of the whole page run (headline), `at.run()` wall time, and
   the page's parts (read, history_frame, render_history_table, render_trend_chart).

3. memory: resident memory after 1,000 completed sandbox syncs (target: within 50 MB).
   Each run is a fresh child process (`--memory-child`) that imports what the console server
   imports, opens a Kbsync on the sandbox (speed 500, poll 0.02 s, file store), warms up with
   one sync on each of its 5 data sources, collects garbage and reads its RSS (psutil); then
   runs 1,000 syncs through engine.start_sync, in 200 batches of 5 (the sandbox allows 5
   concurrent jobs per account and one per data source), each waited for with engine.wait and
   checked COMPLETADO; collects garbage and reads its RSS again. The figure is the growth;
   the idle and final RSS are printed beside it.
"""

import functools
import gc
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
import streamlit.testing.v1.local_script_runner as local_script_runner
from streamlit.runtime.scriptrunner import RerunData
from streamlit.testing.v1 import AppTest

import kbsync_core.history as core_history
from kbsync_core import events
from kbsync_core.config import Settings
from kbsync_core.events import log_event
from kbsync_core.models import AwsCredentials, Execution, ExecutionStatus, SyncTarget
from kbsync_core.runtime import Kbsync, install_kbsync
from kbsync_core.timefmt import iso_utc
from kbsync_core.validation import SyncRequest
from kbsync_sandbox import SANDBOX_DATA_SOURCE_ID, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_REGION

# kbsync_ui is imported where used, after main() quietened logging: importing it outside a
# Streamlit run logs "No runtime found" warnings.

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
HISTORY_PAGE = "app_pages/history.py"
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "benchSecret/NotARealKey+0123456789abcdefgh"  # noqa: S105 - the sandbox takes any key
CREDENTIALS = AwsCredentials.from_keys(ACCESS_KEY_ID, SECRET)
T0 = datetime(2025, 1, 1, tzinfo=UTC)

REFRESH_RUNS = 40
FULL_PAGE_RUNS = 15
HISTORY_RUNS = 15
HISTORY_REFRESH_RUNS = 7
MEMORY_RUNS = 3

STORED_EXECUTIONS = 10_000
RUNNING = 5
HISTORY_ROWS = 1_000
HISTORY_REAL_SYNCS = 120
MEMORY_SYNCS = 1_000
LONG_LOG_LINES = 900

STATISTICS = {
    "numberOfDocumentsScanned": 60, "numberOfMetadataDocumentsScanned": 12,
    "numberOfNewDocumentsIndexed": 7, "numberOfModifiedDocumentsIndexed": 3,
    "numberOfMetadataDocumentsModified": 1, "numberOfDocumentsDeleted": 2,
    "numberOfDocumentsFailed": 0,
}
FAILURE_REASONS = [
    "Encountered error: Ignored s3://bench-bucket/archive/export.zip: the file format .zip is "
    "not supported. Supported formats: .txt, .md, .html, .doc, .docx, .csv, .xls, .xlsx, .pdf.",
    "Encountered error: Unable to parse s3://bench-bucket/scans/contract.pdf: the file is not a "
    "valid PDF.",
]


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def documents(count: int) -> dict[str, bytes]:
    return {
        f"docs/page-{n:03d}.md": f"# Page {n}\n\n{'Some runbook text. ' * 40}\n".encode()
        for n in range(count)
    }


def sandbox_kbsync(folder: str, *, speed: float, poll_seconds: float) -> Kbsync:
    return Kbsync.open(
        Settings(
            backend="sandbox",
            database_url=f"sqlite:///{folder}/kbsync.sqlite3",
            poll_seconds=poll_seconds,
            sandbox_speed=speed,
        )
    )


def sandbox_target(data_source_id: str) -> SyncTarget:
    return SyncTarget(SANDBOX_REGION, SANDBOX_KNOWLEDGE_BASE_ID, data_source_id)


def sync(kbsync: Kbsync, data_source_id: str, description: str = "bench") -> Execution:
    request = SyncRequest(sandbox_target(data_source_id), CREDENTIALS, description)
    return kbsync.engine.start_sync(request)


def signed_in_console(data_source_id: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if data_source_id:
        at.text_input(key="connection_data_source_id").input(data_source_id)
    at.text_input(key="connection_access_key_id").input(ACCESS_KEY_ID)
    at.text_input(key="connection_secret_access_key").input(SECRET)
    return checked(at.run())


def checked(at: AppTest) -> AppTest:
    if at.exception:
        raise RuntimeError(f"the page raised: {[e.value for e in at.exception]}")
    return at


class Timings:
    """Durations of calls to functions patched in place (restored when the stack closes)."""

    def __init__(self, stack: ExitStack):
        self.stack = stack
        self.samples: dict[str, list[float]] = {}

    def wrap(self, owner, name: str, label: str, when=None, stack=None) -> None:
        original = getattr(owner, name)
        samples = self.samples.setdefault(label, [])

        @functools.wraps(original)
        def timed(*args, **kwargs):
            if when is not None and not when():
                return original(*args, **kwargs)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                samples.append(time.perf_counter() - start)

        (stack or self.stack).enter_context(mock.patch.object(owner, name, timed))

    def clear(self) -> None:
        for samples in self.samples.values():
            samples.clear()

    def ms(self, label: str) -> float:
        return median_ms(self.samples[label])


# -- 1. the status fragment's refresh --------------------------------------------------------

STORED_TARGETS = [
    SyncTarget(
        "us-east-1" if n % 5 else "eu-west-1",
        SANDBOX_KNOWLEDGE_BASE_ID if n % 4 == 0 else f"BENCHKB{n % 4:03d}",
        SANDBOX_DATA_SOURCE_ID if n == 0 else f"BENCHDS{n:03d}",
    )
    for n in range(40)
]


def stored_execution(number: int) -> Execution:
    """A finished execution with the log lines the engine writes for a sync of its kind."""
    target = STORED_TARGETS[number % len(STORED_TARGETS)]
    started = T0 + timedelta(minutes=37 * number)
    job = f"J{number:09d}"
    status = (
        ExecutionStatus.FALLIDO if number % 10 == 3
        else ExecutionStatus.DETENIDO if number % 20 == 7
        else ExecutionStatus.COMPLETADO
    )
    aws_status = {"FALLIDO": "FAILED", "DETENIDO": "STOPPED"}.get(status, "COMPLETE")
    finished = started + timedelta(seconds=40 + number % 300)
    moments = [started + timedelta(seconds=4 * step) for step in range(12)]
    log = [
        log_event(events.CREATED, moments[0]),
        log_event(events.STARTING, moments[0]),
        log_event(events.JOB_STARTED, moments[1], job_id=job),
    ]
    log += [
        log_event(events.STATUS, moments[2 + step], status="IN_PROGRESS")
        for step in range(5 + number % 5)
    ]
    reasons = FAILURE_REASONS if status is ExecutionStatus.FALLIDO else []
    if status is ExecutionStatus.DETENIDO:
        log.append(log_event(events.STOP_REQUESTED, finished, job_id=job))
        log.append(log_event(events.STATUS, finished, status="STOPPING"))
    log += [log_event(events.FAILURE_REASON, finished, reason=reason) for reason in reasons]
    log.append(
        log_event(
            {
                ExecutionStatus.COMPLETADO: events.COMPLETED,
                ExecutionStatus.FALLIDO: events.FAILED,
                ExecutionStatus.DETENIDO: events.STOPPED,
            }[status],
            finished,
        )
    )
    return Execution(
        id=str(uuid.UUID(int=number)),
        target=target,
        description=f"Nightly refresh #{number}",
        status=status,
        started_at=iso_utc(started),
        finished_at=iso_utc(finished),
        updated_at=iso_utc(finished),
        job_id=job,
        aws_status=aws_status,
        statistics=dict(STATISTICS),
        failure_reasons=list(reasons),
        events=log,
    )


def bench_refresh() -> dict:
    from kbsync_ui import execution_panel
    from kbsync_ui.session import CURRENT_EXECUTION_KEY

    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        kbsync = sandbox_kbsync(folder, speed=1, poll_seconds=1)
        stack.callback(kbsync.close)
        stack.callback(install_kbsync, None)
        install_kbsync(kbsync)
        started = time.perf_counter()
        for number in range(STORED_EXECUTIONS):
            kbsync.store.add(stored_execution(number))
        populate_seconds = time.perf_counter() - started

        # Five syncs really running: 100 documents each keep them IN_PROGRESS ~2.5 min at
        # speed 1. Four started here; the fifth from the page, which then shows it.
        for number in range(1, RUNNING):
            kbsync.sandbox.add_data_source(f"BENCHDS{number:03d}", documents(100))
        kbsync.sandbox.add_data_source("BENCHRUN01", documents(100))
        for number in range(1, RUNNING):
            sync(kbsync, f"BENCHDS{number:03d}")
        at = signed_in_console("BENCHRUN01")
        at.button[0].click()  # Start sync
        checked(at.run())
        execution_id = at.session_state[CURRENT_EXECUTION_KEY]
        deadline = time.monotonic() + 30
        while not all(
            e.aws_status == "IN_PROGRESS"
            for e in kbsync.store.list_unfinished()
        ) or len(kbsync.store.list_unfinished()) < RUNNING:
            if time.monotonic() > deadline:
                raise RuntimeError("the 5 syncs did not reach IN_PROGRESS")
            time.sleep(0.2)
        assert kbsync.store.count() == STORED_EXECUTIONS + RUNNING
        checked(at.run())

        timings = Timings(stack)
        in_fragment = [False]

        def inside_fragment() -> bool:
            return in_fragment[0]

        original_live_panel = execution_panel._live_panel

        @functools.wraps(original_live_panel)
        def live_panel(*args, **kwargs):
            in_fragment[0] = True
            try:
                return original_live_panel(*args, **kwargs)
            finally:
                in_fragment[0] = False

        stack.enter_context(mock.patch.object(execution_panel, "_live_panel", live_panel))
        timings.wrap(execution_panel, "_live_panel", "body")
        timings.wrap(kbsync.store, "get", "read", when=inside_fragment)
        timings.wrap(local_script_runner.LocalScriptRunner, "_run_script", "script run")
        sent = []
        forward_msgs = local_script_runner.LocalScriptRunner.forward_msgs

        def capture(runner):
            messages = forward_msgs(runner)
            sent.append(list(messages))
            return messages

        stack.enter_context(
            mock.patch.object(local_script_runner.LocalScriptRunner, "forward_msgs", capture)
        )

        # Whole-page reruns of the Sync page, for comparison (and to register the fragment).
        walls = []
        for _ in range(FULL_PAGE_RUNS):
            started = time.perf_counter()
            checked(at.run())
            walls.append(time.perf_counter() - started)
        full_page = {
            "wall_ms": median_ms(walls),
            "script_ms": timings.ms("script run"),
            "body_ms": timings.ms("body"),
        }
        assert f"`{kbsync.engine.get(execution_id).job_id}`" in "".join(
            m.value for m in at.markdown
        )

        # The fragment's own reruns, as its run_every timer asks for them.
        fragment_ids = list(at._fragment_storage._fragments)  # AppTest keeps no public list
        assert len(fragment_ids) == 1, fragment_ids
        fragment_rerun = functools.partial(
            RerunData, fragment_id_queue=fragment_ids, is_auto_rerun=True
        )

        def refreshes() -> dict:
            timings.clear()
            sent.clear()
            walls = []
            with mock.patch.object(local_script_runner, "RerunData", fragment_rerun):
                for _ in range(REFRESH_RUNS):
                    started = time.perf_counter()
                    checked(at.run())
                    walls.append(time.perf_counter() - started)
            assert len(timings.samples["body"]) == REFRESH_RUNS, "not one body per rerun"
            assert not at.sidebar.text_input, "a fragment rerun redrew the whole page"
            assert any("Running" in markdown.value for markdown in at.markdown)
            serialise, sizes = [], []
            for messages in sent:
                started = time.perf_counter()
                sizes.append(sum(len(message.SerializeToString()) for message in messages))
                serialise.append(time.perf_counter() - started)
            return {
                "script_ms": timings.ms("script run"),
                "body_ms": timings.ms("body"),
                "read_ms": timings.ms("read"),
                "wall_ms": median_ms(walls),
                "serialise_ms": median_ms(serialise),
                "bytes": statistics.median(sizes),
                "log_lines": len(kbsync.engine.get(execution_id).logs),
            }

        refresh = refreshes()
        # The same sync an hour later: a line each poll whose statistics changed (default
        # poll 4 s), appended the way the engine appends them.
        kbsync.store.record(
            execution_id,
            log=[
                log_event(events.STATUS, status="IN_PROGRESS") for _ in range(LONG_LOG_LINES)
            ],
        )
        long_log = refreshes()
        still_running = len(kbsync.store.list_unfinished())
        if still_running != RUNNING or kbsync.engine.running_count() != RUNNING:
            raise RuntimeError(f"only {still_running} syncs still ran at the end")
        return {
            **refresh,
            "populate_s": populate_seconds,
            "long_log": long_log,
            "full_page": full_page,
        }


# -- 2. the History page -----------------------------------------------------------------------

HISTORY_TARGET = sandbox_target("HISTDS0001")


def history_execution(number: int) -> Execution:
    execution = stored_execution(number)
    execution.target = HISTORY_TARGET
    execution.job_id = f"HJ{number:08d}"
    return execution


def aws_summary(number: int) -> dict:
    """An AWS job summary as boto3 returns it: the even ones are local executions' jobs."""
    started = T0 + timedelta(minutes=37 * number)
    return {
        "knowledgeBaseId": HISTORY_TARGET.knowledge_base_id,
        "dataSourceId": HISTORY_TARGET.data_source_id,
        "ingestionJobId": f"HJ{number:08d}",
        "status": "COMPLETE",
        "startedAt": started,
        "updatedAt": started + timedelta(seconds=55),
        "statistics": dict(STATISTICS),
        "description": "Started from the AWS console",
    }


def time_history_page(at: AppTest, runs: int, timings: Timings, click_refresh=False) -> dict:
    timings.clear()
    walls = []
    for _ in range(runs):
        if click_refresh:
            at.button(key="history_refresh").click()
        started = time.perf_counter()
        checked(at.run())
        walls.append(time.perf_counter() - started)
    return {
        "wall_ms": median_ms(walls),
        "script_ms": timings.ms("script run"),
        **{
            f"{label}_ms": timings.ms(label)
            for label in ("read", "frame", "table", "chart")
            if timings.samples[label]
        },
        "rows": len(at.dataframe[0].value),
    }


def bench_history() -> dict:
    from kbsync_ui import history_view

    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        kbsync = sandbox_kbsync(folder, speed=500, poll_seconds=0.02)
        stack.callback(kbsync.close)
        stack.callback(install_kbsync, None)
        install_kbsync(kbsync)
        for number in range(HISTORY_ROWS):
            kbsync.store.add(history_execution(2 * number))
        # 1,000 AWS summaries, newest first: 500 are local executions' jobs, 500 AWS's own.
        summaries = [aws_summary(number) for number in range(2 * HISTORY_ROWS - 1, 999, -1)]
        retrieved_at = datetime.now(UTC)

        def read_thousand(request, *, refresh=False, keep=None, max_age=None):
            # HistoryService.read on an AWS-cache hit, at 1,000 instead of maxResults.
            local = kbsync.store.list_for_target(request.target, limit=HISTORY_ROWS)
            rows = core_history.aws_job_rows(summaries, retrieved_at)
            rows = core_history.merge_history(local, rows)
            return [row for row in rows if keep is None or keep(row)][:HISTORY_ROWS]

        timings = Timings(stack)
        timings.wrap(local_script_runner.LocalScriptRunner, "_run_script", "script run")
        timings.wrap(history_view, "history_frame", "frame")  # as the view calls it
        timings.wrap(history_view, "render_history_table", "table")
        timings.wrap(history_view, "render_trend_chart", "chart")

        at = signed_in_console(HISTORY_TARGET.data_source_id)
        at.switch_page(HISTORY_PAGE)
        with ExitStack() as thousand_stack:
            thousand_stack.enter_context(
                mock.patch.object(kbsync.history, "read", read_thousand)
            )
            timings.wrap(kbsync.history, "read", "read", stack=thousand_stack)
            checked(at.run())
            thousand = time_history_page(at, HISTORY_RUNS, timings)
        assert thousand["rows"] == HISTORY_ROWS, thousand

        # The real page: 10,000 executions of SANDBOXDS1 stored, then 120 syncs, half by kbsync.
        started = time.perf_counter()
        for number in range(STORED_EXECUTIONS):
            execution = stored_execution(number)
            execution.id = str(uuid.uuid4())  # the 1,000-row figure's stored ones share ids
            execution.target = sandbox_target(SANDBOX_DATA_SOURCE_ID)
            kbsync.store.add(execution)
        populate_seconds = time.perf_counter() - started
        client = kbsync.clients.bedrock_agent(CREDENTIALS, SANDBOX_REGION)
        for number in range(HISTORY_REAL_SYNCS):
            if number % 2:
                client.start_ingestion_job(
                    knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID, dataSourceId=SANDBOX_DATA_SOURCE_ID
                )
                kbsync.sandbox.finish_running_jobs()
            else:
                execution = sync(kbsync, SANDBOX_DATA_SOURCE_ID, f"Refresh #{number}")
                if not kbsync.engine.wait(execution.id, 30).status.is_final:
                    raise RuntimeError("a history sync did not end")
        timings.wrap(kbsync.history, "read", "read")
        assert kbsync.store.count() >= STORED_EXECUTIONS + HISTORY_REAL_SYNCS // 2
        at = signed_in_console()
        at.switch_page(HISTORY_PAGE)
        checked(at.run())
        default = time_history_page(at, HISTORY_RUNS, timings)
        at.number_input(key="history_max_results").set_value(100)
        checked(at.run())
        cached = time_history_page(at, HISTORY_RUNS, timings)
        refreshed = time_history_page(at, HISTORY_REFRESH_RUNS, timings, click_refresh=True)
        assert default["rows"] == 30, default
        assert cached["rows"] == refreshed["rows"] == 100, (cached, refreshed)
        return {
            "thousand": thousand, "default": default, "cached": cached, "refreshed": refreshed,
            "populate_s": populate_seconds,
        }


# -- 3. memory after 1,000 syncs ---------------------------------------------------------------


def memory_child() -> None:
    """One memory run, in a process of its own; prints one JSON line."""
    logging.disable(logging.WARNING)
    # What the console server has loaded besides kbsync_core.
    import altair  # noqa: F401
    import pandas  # noqa: F401
    import streamlit  # noqa: F401

    import kbsync_ui.shell  # noqa: F401

    process = psutil.Process()
    with tempfile.TemporaryDirectory() as folder:
        kbsync = sandbox_kbsync(folder, speed=500, poll_seconds=0.02)
        data_sources = [SANDBOX_DATA_SOURCE_ID]
        for number in range(1, RUNNING):
            data_sources.append(f"MEMDS{number:05d}")
            kbsync.sandbox.add_data_source(data_sources[-1], documents(20))

        def batch() -> None:
            executions = [sync(kbsync, data_source) for data_source in data_sources]
            for execution in executions:
                ended = kbsync.engine.wait(execution.id, 60)
                if ended.status is not ExecutionStatus.COMPLETADO:
                    raise RuntimeError(f"a sync ended {ended.status}: {ended.logs}")

        def rss() -> int:
            gc.collect()
            time.sleep(0.5)
            gc.collect()
            return process.memory_info().rss

        batch()  # warm-up: one sync on each data source
        idle = rss()
        started = time.perf_counter()
        samples = []
        for number in range(MEMORY_SYNCS // len(data_sources)):
            batch()
            if (number + 1) % 50 == 0:
                samples.append(process.memory_info().rss)
        seconds = time.perf_counter() - started
        after = rss()
        assert kbsync.store.count() == MEMORY_SYNCS + len(data_sources)
        kbsync.close()
    print(json.dumps({"idle": idle, "after": after, "seconds": seconds, "samples": samples}))


def bench_memory() -> list[dict]:
    runs = []
    for _ in range(MEMORY_RUNS):
        child = subprocess.run(  # noqa: S603 - this very script, by its own path
            [sys.executable, __file__, "--memory-child"],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )
        runs.append(json.loads(child.stdout.strip().splitlines()[-1]))
    return runs


def main() -> None:
    if sys.argv[1:] == ["--memory-child"]:
        memory_child()
        return
    logging.disable(logging.WARNING)  # Streamlit's "No runtime found" outside a real server
    mb = 1024 * 1024

    refresh = bench_refresh()
    full = refresh["full_page"]
    long_log = refresh["long_log"]
    print(
        f"1. status fragment refresh, {STORED_EXECUTIONS:,} executions stored, {RUNNING} "
        f"running: median {refresh['script_ms']:.1f} ms over {REFRESH_RUNS} reruns "
        f"(target < 25 ms)\n"
        f"   server time of one fragment-only rerun (ScriptRunner._run_script); of it the "
        f"fragment body {refresh['body_ms']:.1f} ms, its store read {refresh['read_ms']:.2f} ms;"
        f"\n   + {refresh['serialise_ms']:.2f} ms to serialise {refresh['bytes'] / 1024:.1f} KB "
        f"of deltas; AppTest at.run() wall {refresh['wall_ms']:.1f} ms; "
        f"panel log {refresh['log_lines']} lines\n"
        f"   same sync an hour on ({long_log['log_lines']} log lines): "
        f"{long_log['script_ms']:.1f} ms (body {long_log['body_ms']:.1f}, read "
        f"{long_log['read_ms']:.2f}, {long_log['bytes'] / 1024:.0f} KB of deltas)\n"
        f"   not the timer's work, for comparison: a whole Sync page rerun "
        f"{full['script_ms']:.1f} ms server, {full['wall_ms']:.1f} ms at.run() wall "
        f"({refresh['populate_s']:.0f} s to store {STORED_EXECUTIONS:,})"
    )

    history = bench_history()
    thousand, cached, refreshed = history["thousand"], history["cached"], history["refreshed"]
    default = history["default"]
    print(
        f"2. History page run at {STORED_EXECUTIONS:,} stored executions of the data source: "
        f"median {default['script_ms']:.0f} ms over {HISTORY_RUNS} runs with Max results "
        f"{default['rows']} (target < 300 ms)\n"
        f"   server time of the whole script run (ScriptRunner._run_script); at.run() wall "
        f"{default['wall_ms']:.0f} ms; parts: read {default['read_ms']:.1f}, history_frame "
        f"{default['frame_ms']:.1f}, table {default['table_ms']:.1f}, charts "
        f"{default['chart_ms']:.1f} ms\n"
        f"   at its maximum ({cached['rows']} rows): {cached['script_ms']:.0f} ms "
        f"server / {cached['wall_ms']:.0f} ms wall with AWS from the cache (read "
        f"{cached['read_ms']:.1f} ms), {refreshed['script_ms']:.0f} ms / "
        f"{refreshed['wall_ms']:.0f} ms with Refresh from AWS (read {refreshed['read_ms']:.0f} "
        f"ms); {history['populate_s']:.0f} s to store {STORED_EXECUTIONS:,}\n"
        f"   with {thousand['rows']:,} rows (read patched, see above): "
        f"{thousand['script_ms']:.0f} ms server, {thousand['wall_ms']:.0f} ms wall; parts: "
        f"read+merge {thousand['read_ms']:.0f}, history_frame {thousand['frame_ms']:.0f}, "
        f"table {thousand['table_ms']:.0f}, charts {thousand['chart_ms']:.0f} ms"
    )

    memory = bench_memory()
    growth = statistics.median((run["after"] - run["idle"]) / mb for run in memory)
    print(
        f"3. RSS growth after {MEMORY_SYNCS:,} completed sandbox syncs: median {growth:.1f} MB "
        f"over {MEMORY_RUNS} processes (target within 50 MB)\n"
        + "\n".join(
            f"   run {n}: idle {run['idle'] / mb:.0f} MB -> {run['after'] / mb:.0f} MB "
            f"(+{(run['after'] - run['idle']) / mb:.1f} MB) in {run['seconds']:.0f} s; "
            f"every 250 syncs: "
            + ", ".join(f"{sample / mb:.0f}" for sample in run["samples"])
            for n, run in enumerate(memory, 1)
        )
    )


if __name__ == "__main__":
    main()
