"""GET /api/sync's long poll (`wait`, `since`): answered at once on news, else when the
execution changes (written by this process, or by another writer of the store), else at the
timeout; always seed 000's body."""

import asyncio
import threading
import time

import pytest
from starlette.concurrency import run_in_threadpool

from kbsync_api import longpoll
from kbsync_core import events
from kbsync_core.events import log_event
from kbsync_core.models import Execution, ExecutionStatus, SyncTarget
from kbsync_core.progress import SyncProgress
from kbsync_core.reads import ExecutionReads
from kbsync_core.store import ExecutionStore
from tests.api.conftest import sync_body

TARGET = SyncTarget("us-east-1", "SANDBOXKB1", "SANDBOXDS1")


# -- over HTTP ---------------------------------------------------------------------------------


def test_a_client_long_polling_follows_a_sync_to_its_end_one_change_per_answer(api):
    execution_id = api.start_sync(sync_body())
    seen = api.execution(execution_id)
    answers = 0
    while seen["status"] in ("PENDIENTE", "EN_EJECUCION"):
        began = time.monotonic()
        reply = api.get(
            "/api/sync", executionId=execution_id, wait="10", since=str(len(seen["logs"]))
        )
        assert reply.status == 200, reply.json
        assert time.monotonic() - began < 9, "held to the timeout though the sync went on"
        assert (
            len(reply.json["logs"]) != len(seen["logs"]) or reply.json["status"] != "EN_EJECUCION"
        )
        seen = reply.json
        answers += 1
    assert seen["status"] == "COMPLETADO"
    assert set(seen) == set(api.execution(execution_id))  # the plain GET's body, field for field
    assert answers >= 2


def test_news_is_answered_at_once_and_bad_parameters_are_400s(api):
    execution_id = api.start_sync(sync_body())
    began = time.monotonic()
    reply = api.get("/api/sync", executionId=execution_id, wait="30", since="0")
    assert reply.status == 200 and reply.json["id"] == execution_id
    assert time.monotonic() - began < 2
    for query in ({"wait": "31"}, {"wait": "-1"}, {"wait": "soon"}, {"wait": "nan"}):
        reply = api.get("/api/sync", executionId=execution_id, **query)
        assert reply.status == 400 and "wait must be" in reply.error
    reply = api.get("/api/sync", executionId=execution_id, wait="1", since="x")
    assert reply.status == 400 and "since must be" in reply.error
    reply = api.get("/api/sync", executionId="no-such-execution", wait="5")
    assert reply.status == 404


# -- the change feed, in process ---------------------------------------------------------------


class FakeKbsync:
    """What the long poll uses of a Kbsync: its store, its reads and its progress (in the
    answer's body), all real."""

    def __init__(self, store: ExecutionStore):
        self.store = store
        self.reads = ExecutionReads(store)
        self.progress = SyncProgress(store)


def running_execution(store: ExecutionStore, number: int = 1) -> Execution:
    execution = Execution(
        f"waited-{number}",
        TARGET,
        "waited",
        ExecutionStatus.EN_EJECUCION,
        "2026-12-01T10:00:00.000Z",
        events=[log_event(events.CREATED)],
    )
    store.add(execution)
    return execution


def long_poll(kbsync: FakeKbsync, execution_id: str, wait: float, since: int | None):
    async def read(wanted):
        return await run_in_threadpool(kbsync.reads.get, wanted)

    async def call():
        began = time.monotonic()
        reply = await longpoll.get_sync_when_changed(kbsync, execution_id, wait, since, read)
        return reply, time.monotonic() - began

    return asyncio.run(call())


def later(seconds: float, action) -> None:
    threading.Timer(seconds, action).start()


@pytest.fixture
def store(tmp_path):
    store = ExecutionStore(f"sqlite:///{tmp_path}/feed.sqlite3")
    yield store
    store.close()


def test_without_a_change_it_answers_at_the_timeout(store):
    kbsync = FakeKbsync(store)
    execution = running_execution(store)
    reply, took = long_poll(kbsync, execution.id, 0.4, since=1)
    assert reply.status == 200
    assert 0.35 <= took < 1.5
    assert b'"logs":["' in reply.encoded


def test_this_processs_write_wakes_it_at_once(store, monkeypatch):
    monkeypatch.setattr(longpoll, "PROBE_SECONDS", 60)  # only the write listener can wake it
    kbsync = FakeKbsync(store)
    execution = running_execution(store)
    later(
        0.2,
        lambda: store.record(execution.id, log=[log_event(events.STATUS, status="IN_PROGRESS")]),
    )
    reply, took = long_poll(kbsync, execution.id, 10, since=None)
    assert took < 1.5
    assert b"Estado actual: IN_PROGRESS" in reply.encoded


def test_another_writer_of_the_store_is_seen_within_the_probe(tmp_path, database_url):
    store = ExecutionStore(database_url)
    other_replica = ExecutionStore(database_url)
    try:
        kbsync = FakeKbsync(store)
        execution = running_execution(store, 2)
        kbsync.reads.get(execution.id)  # read lately: the cache must not hide the change
        later(
            0.3,
            lambda: other_replica.record(
                execution.id,
                log=[log_event(events.COMPLETED)],
                status=ExecutionStatus.COMPLETADO,
                finished_at="2026-12-01T10:01:00.000Z",
            ),
        )
        reply, took = long_poll(kbsync, execution.id, 10, since=1)
        assert took < 0.3 + 2 * longpoll.PROBE_SECONDS + 0.5
        assert b'"status":"COMPLETADO"' in reply.encoded
    finally:
        other_replica.close()
        store.close()


def test_beyond_the_bound_a_request_is_answered_at_once(store, monkeypatch):
    kbsync = FakeKbsync(store)
    execution = running_execution(store)
    feed = longpoll.change_feed(kbsync)
    monkeypatch.setattr(feed, "_max_waiting", 0)
    reply, took = long_poll(kbsync, execution.id, 10, since=1)
    assert reply.status == 200 and took < 1
