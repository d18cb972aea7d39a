"""GET /api/sync's long poll (kbsync's addition): a client hears of a change at once.

    GET /api/sync?executionId=<id>&wait=25&since=<the number of log lines it has>

answers at once when the execution has more (or fewer) log lines than `since`, or has ended;
otherwise it holds the request until the execution changes, or `wait` seconds pass, and then
answers with the execution as it is: seed 000's body, unchanged. Without `since`, it waits for
the next change after the request arrived.

Waiting costs no thread: each waiting request is a future on the event loop. It is woken

- at once by this replica's own writes (ExecutionStore.on_write, called from the worker's
  thread, handed to the loop with call_soon_threadsafe), and
- within PROBE_SECONDS by another replica's: one probe reads the last-write time of every
  execution someone waits for, in one cheap query (no log read), and wakes those whose
  execution moved on.

At most MAX_WAITING requests wait at once; beyond, a request is answered at once, as a plain
GET /api/sync would be (the client then asks again, as seed 000's clients do).
"""

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from kbsync_api import contract as api
from kbsync_core.models import Execution
from kbsync_core.runtime import Kbsync
from kbsync_core.store import ExecutionStore

logger = logging.getLogger(__name__)

# Another replica's change reaches a waiting client within this (the 250 ms of the reads cache).
PROBE_SECONDS = 0.25
MAX_WAITING = 1000
# A version no execution has: one that was not found is news to whoever waits for it.
GONE = ""


@dataclass(eq=False)
class _Waiter:
    baseline: str | None  # the execution's updated_at when the request last read it
    future: asyncio.Future = field(repr=False)


class ChangeFeed:
    """Wakes the requests waiting for executions to change; lives on one event loop."""

    def __init__(
        self,
        store: ExecutionStore,
        probe_seconds: float = PROBE_SECONDS,
        max_waiting: int = MAX_WAITING,
    ):
        self._store = store
        self._probe_seconds = probe_seconds
        self._max_waiting = max_waiting
        self._waiters: dict[str, set[_Waiter]] = {}
        self._waiting = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._probe: asyncio.Task | None = None
        store.on_write(self._written)

    @property
    def waiting(self) -> int:
        return self._waiting

    def is_full(self) -> bool:
        return self._waiting >= self._max_waiting

    def _written(self, execution_id: str) -> None:
        """A write by this process, on any thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake, execution_id, None)

    def _wake(self, execution_id: str, version: str | None) -> None:
        """Wake who waits for the execution: all of them (None: this process wrote it), or
        those whose last read is older than `version`."""
        for waiter in self._waiters.get(execution_id, ()):
            if (version is None or waiter.baseline != version) and not waiter.future.done():
                waiter.future.set_result(version)

    async def wait(self, execution_id: str, baseline: str | None, timeout: float) -> bool:
        """Until the execution changes after `baseline` (True) or `timeout` passes (False)."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        waiter = _Waiter(baseline, loop.create_future())
        self._waiters.setdefault(execution_id, set()).add(waiter)
        self._waiting += 1
        if self._probe is None or self._probe.done():
            self._probe = loop.create_task(self._probe_store())
        try:
            done, _pending = await asyncio.wait({waiter.future}, timeout=timeout)
            return bool(done)
        finally:
            self._waiting -= 1
            waiters = self._waiters.get(execution_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[execution_id]

    async def _probe_store(self) -> None:
        """While anyone waits: read the waited-for executions' last writes, wake on news."""
        while self._waiters:
            await asyncio.sleep(self._probe_seconds)
            execution_ids = list(self._waiters)
            if not execution_ids:
                return
            try:
                versions = await run_in_threadpool(self._store.versions_of, execution_ids)
            except Exception:
                # The store briefly unreachable: this replica's own writes still wake, and
                # the next probe tries again.
                logger.warning("Probing executions for changes failed", exc_info=True)
                continue
            for execution_id in execution_ids:
                self._wake(execution_id, versions.get(execution_id, GONE))


_feeds: "weakref.WeakKeyDictionary[Kbsync, ChangeFeed]" = weakref.WeakKeyDictionary()


def change_feed(kbsync: Kbsync) -> ChangeFeed:
    """The process's feed (one per Kbsync; made on the event loop, so no lock is needed)."""
    feed = _feeds.get(kbsync)
    if feed is None:
        feed = _feeds[kbsync] = ChangeFeed(kbsync.store)
    return feed


async def get_sync_when_changed(
    kbsync: Kbsync,
    execution_id: str | None,
    wait: float,
    since: int | None,
    read: Callable[[str], Awaitable[Execution | None]],
) -> api.ApiReply:
    """GET /api/sync with `wait` (and `since`): the execution once it is news to the client,
    or as it is when `wait` runs out. `read(id)`: the execution now (shared with the other
    readers of it). The caller checked the id and the token's right to see it."""
    feed = change_feed(kbsync)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    execution = await read(execution_id)
    if execution is None:
        return api.error_reply(404, api.EXECUTION_NOT_FOUND)
    if since is None:
        since = len(execution.events)
    while not api.is_news(execution, since) and not feed.is_full():
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        if not await feed.wait(execution.id, execution.updated_at, remaining):
            break
        # Another replica's write: what this replica read lately may be older than it.
        kept = kbsync.reads.peek(execution.id)
        if kept is not None and kept.updated_at == execution.updated_at:
            kbsync.reads.forget(execution.id)
        execution = await read(execution.id)
        if execution is None:
            return api.error_reply(404, api.EXECUTION_NOT_FOUND)
    return await run_in_threadpool(api.execution_reply, kbsync, execution)
