"""A background thread that calls a function every few seconds until it is closed: the
scheduler's and the table jobs' ticks.

Lifecycle as the run coordinator's (Datasette's database.py is the model): one thread, a clear
stop signal (`closing`, which the ticked work also reads to leave early), a bounded join, and a
warning when the thread does not exit. A tick that raises is logged and the next one comes: a
database briefly unreachable must not end the thread, and nothing a failed tick did not claim
is lost (the next tick finds the same due work).
"""

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

CLOSE_JOIN_SECONDS = 10.0


class Ticker:
    def __init__(self, name: str, tick: Callable[[], object], seconds: float):
        self.name = name
        self._tick = tick
        self._seconds = seconds
        self.closing = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self.closing.wait(self._seconds):
            try:
                self._tick()
            except Exception:
                logger.exception("A tick of %s failed; it tries again shortly.", self.name)

    def close(self, timeout: float = CLOSE_JOIN_SECONDS) -> None:
        """Stop ticking; idempotent."""
        self.closing.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("%s did not exit within %.0f s.", self.name, timeout)
            self._thread = None
