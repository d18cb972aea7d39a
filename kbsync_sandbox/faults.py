"""Faults that tests and demos inject into bedrock-agent answers: errors and latency."""

import threading
from dataclasses import dataclass

from .model import SERVICE_MODEL, error_for_status, error_status


@dataclass
class Fault:
    operation: str | None  # None: any bedrock-agent operation
    error: str | None  # error code answered, None for latency only
    status: int | None  # HTTP status of the error
    latency_seconds: float
    remaining: int | None  # None: until cleared


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
    ) -> None:
        if operation is not None and operation not in SERVICE_MODEL.operation_names:
            raise ValueError(f"{operation} is not a bedrock-agent operation (e.g. GetIngestionJob)")
        if error is None and status is not None:
            error = error_for_status(status)
            if error is None:
                raise ValueError(f"No bedrock-agent error has status {status}; pass error= too")
        if error is not None and status is None:
            status = error_status(error)
            if status is None:
                raise ValueError(f"{error} is not a bedrock-agent error; pass status= too")
        if error is None and not latency_seconds > 0:
            raise ValueError("A fault needs an error, a status or a positive latency_seconds")
        if count is not None and count < 1:
            raise ValueError(f"count must be at least 1 (or None for until cleared), not {count}")
        with self._lock:
            self._faults.append(Fault(operation, error, status, latency_seconds, count))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, operation: str) -> Fault | None:
        """The oldest fault matching `operation`, counted as used once."""
        with self._lock:
            for fault in self._faults:
                if fault.operation in (None, operation):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self._faults.remove(fault)
                    return fault
            return None
