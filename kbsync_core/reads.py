"""Recent reads of executions, for the clients that poll them (seed 000's GET /api/sync).

Pollers ask for the same few executions many times a second; each answer is a store read. This
keeps the executions read lately:

- an ended execution never changes again: kept until evicted (least recently used first);
- an unfinished one is served for FRESH_SECONDS after it was read, and forgotten at once when
  this replica writes it. A change written by another replica shows here within FRESH_SECONDS,
  far less than the seconds between two polls of a seed 000 client.

An execution this replica has not read lately is read from the store, so one that another
replica just created is found at once.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from kbsync_core.models import Execution
from kbsync_core.store import ExecutionStore

FRESH_SECONDS = 0.25
MAX_KEPT = 1024


class ExecutionReads:
    """A bounded read-through cache of executions in front of the store; thread-safe."""

    def __init__(
        self,
        store: ExecutionStore,
        fresh_seconds: float = FRESH_SECONDS,
        max_kept: int = MAX_KEPT,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._store = store
        self._fresh_seconds = fresh_seconds
        self._max_kept = max_kept
        self._clock = clock
        self._kept: OrderedDict[str, tuple[float, Execution]] = OrderedDict()
        self._lock = threading.Lock()
        store.on_write(self.forget)

    def peek(self, execution_id: str) -> Execution | None:
        """The execution if a recent read still holds; never touches the store, so it may run
        on an event loop. None means: read it (get)."""
        with self._lock:
            kept = self._kept.get(execution_id)
            if kept is None:
                return None
            read_at, execution = kept
            if not execution.status.is_final and self._clock() - read_at >= self._fresh_seconds:
                del self._kept[execution_id]
                return None
            self._kept.move_to_end(execution_id)
            return execution

    def get(self, execution_id: str) -> Execution | None:
        """The execution, from a recent read or from the store (None if there is none)."""
        execution = self.peek(execution_id)
        if execution is not None:
            return execution
        read_at = self._clock()
        execution = self._store.get(execution_id)
        if execution is not None:
            with self._lock:
                self._kept[execution_id] = (read_at, execution)
                self._kept.move_to_end(execution_id)
                while len(self._kept) > self._max_kept:
                    self._kept.popitem(last=False)
        return execution

    def forget(self, execution_id: str) -> None:
        with self._lock:
            self._kept.pop(execution_id, None)
