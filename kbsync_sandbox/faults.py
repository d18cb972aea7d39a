"""Faults that tests and demos inject into bedrock-agent answers.

A fault applies to one operation (or any), to the next `count` requests it hits (or until
cleared), each request being hit with probability `probability`. What it does to a request:

- `error` / `status`: answer that AWS error instead of doing the work;
- `latency_seconds`: wait that long (real seconds) before answering;
- `lost_answer`: do the work, then lose the answer: the client gets `error` / `status` if
  given, else the connection is closed without an answer (after `latency_seconds`, so a
  latency longer than the client's read timeout makes a read timeout after the work was done);
- `close_connection`: close the connection without an answer, the work not done.
"""

import math
import random
import threading
from dataclasses import dataclass, field, replace
from itertools import count as counter

from .model import SERVICE_MODEL, error_for_status, error_status

_fault_ids = counter(1)


@dataclass
class Fault:
    operation: str | None  # None: any bedrock-agent operation
    error: str | None  # error code answered, None for no error
    status: int | None  # HTTP status of the error
    latency_seconds: float
    remaining: int | None  # requests it will still hit; None: until cleared
    probability: float = 1.0  # chance that a matching request is hit
    lost_answer: bool = False  # the work is done, then the answer is lost
    close_connection: bool = False  # no answer and no work
    fault_id: int = field(default_factory=lambda: next(_fault_ids))
    _random: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def as_json(self) -> dict:
        """The fault as the sandbox server shows it (camelCase, as the request that adds it)."""
        return {
            "id": self.fault_id,
            "operation": self.operation,
            "error": self.error,
            "status": self.status,
            "probability": self.probability,
            "latencySeconds": self.latency_seconds,
            "count": self.remaining,
            "lostAnswer": self.lost_answer,
            "closeConnection": self.close_connection,
        }


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def inject(
        self,
        operation: str | None = None,
        error: str | None = None,
        status: int | None = None,
        latency_seconds: float = 0.0,
        count: int | None = None,
        *,
        probability: float = 1.0,
        lost_answer: bool = False,
        close_connection: bool = False,
        seed: int | None = None,
    ) -> Fault:
        """Add a fault; raises ValueError saying what is wrong with one that cannot apply.

        `seed` seeds the fault's own random.Random, for a repeatable `probability`.
        """
        if operation is not None and operation not in SERVICE_MODEL.operation_names:
            raise ValueError(f"{operation} is not a bedrock-agent operation (e.g. GetIngestionJob)")
        if status is not None and (
            isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599
        ):
            raise ValueError(f"status must be an HTTP error status (400 to 599), not {status}")
        if error is None and status is not None:
            error = error_for_status(status)
            if error is None:
                raise ValueError(
                    f"No bedrock-agent error has status {status}; give an error code too"
                )
        if error is not None and status is None:
            status = error_status(error)
            if status is None:
                raise ValueError(f"{error} is not a bedrock-agent error; give its status too")
        if not (is_finite_number(latency_seconds) and latency_seconds >= 0):
            raise ValueError(
                f"latency_seconds must be a number of seconds >= 0, not {latency_seconds}"
            )
        if not (is_finite_number(probability) and 0 < probability <= 1):
            raise ValueError(f"probability must be above 0 and at most 1, not {probability}")
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or count < 1
        ):
            raise ValueError(f"count must be at least 1 (or None for until cleared), not {count}")
        if close_connection and lost_answer:
            raise ValueError(
                "close_connection (no work, no answer) and lost_answer (work done, answer lost) "
                "exclude each other"
            )
        if close_connection and error is not None:
            raise ValueError("close_connection answers nothing: drop error and status")
        if error is None and not latency_seconds > 0 and not lost_answer and not close_connection:
            raise ValueError(
                "A fault needs something to do: an error, a status, a positive latency_seconds, "
                "lost_answer or close_connection"
            )
        fault = Fault(
            operation,
            error,
            status,
            float(latency_seconds),
            count,
            probability=float(probability),
            lost_answer=lost_answer,
            close_connection=close_connection,
            _random=random.Random(seed),  # noqa: S311 - a test's dice, not cryptography
        )
        with self._lock:
            self._faults.append(fault)
        return replace(fault)

    @property
    def faults(self) -> list[Fault]:
        """Copies of the faults still in force, oldest first."""
        with self._lock:
            return [replace(fault) for fault in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, operation: str) -> Fault | None:
        """The oldest fault matching `operation` that hits this request (each one rolls its
        dice in turn), counted as used once; None if none hits."""
        with self._lock:
            for fault in self._faults:
                if fault.operation not in (None, operation):
                    continue
                if fault.probability < 1 and not fault._random.random() < fault.probability:
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                return replace(fault)
            return None


def is_finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
