"""One ingestion job being worked: what its delivery (CUSTOM or S3) needs at every step.

A delivery calls `step()` between steps (it renews the lease and learns of a cancel written by
any replica), `throttle(operation)` before each call to a Bedrock document operation (the
account's quota of that operation, shared by the replicas that ingest), and `pause()` to
wait; each raises Cancelled when the job was cancelled, Leaving when this replica must stop
working it (shutdown, a lost lease).
"""

import time
from dataclasses import dataclass, field

from kbsync_core.aws import AwsClients
from kbsync_core.config import Settings
from kbsync_core.models import AwsCredentials, SyncTarget
from kbsync_core.polling import PollRateLimiter, account_key
from kbsync_core.runs import RunCoordinator, Worker
from kbsync_core.store.ingestion import IngestionJobRecord, IngestionStore
from kbsync_core.store.runs import Lease
from kbsync_core.timefmt import iso_utc, utc_now


class Cancelled(Exception):
    """Someone cancelled the job: send nothing more."""


class Leaving(Exception):
    """This replica stops working the job (shutdown, or its lease was lost): write nothing."""


@dataclass
class JobRun:
    worker: Worker
    job: IngestionJobRecord
    store: IngestionStore
    coordinator: RunCoordinator
    clients: AwsClients
    settings: Settings
    limiter: PollRateLimiter
    # Seconds spent waiting for the limiter, for the bench's figures.
    throttled_seconds: float = field(default=0.0)

    @property
    def lease(self) -> Lease:
        return self.worker.lease

    @property
    def credentials(self) -> AwsCredentials:
        return self.worker.credentials

    @property
    def target(self) -> SyncTarget:
        return self.job.target

    def bedrock(self):
        return self.clients.bedrock_agent(self.credentials, self.target.region)

    def s3(self):
        return self.clients.s3(self.credentials, self.target.region)

    @staticmethod
    def now() -> str:
        return iso_utc(utc_now())

    def step(self) -> None:
        """Renew the lease and honour a stop: Leaving, Cancelled, or nothing."""
        if self.coordinator.should_leave(self.worker):
            raise Leaving
        self.coordinator.checkpoint(self.worker)  # LeaseLostError when it is not ours
        if self.worker.stop_requested.is_set():
            raise Cancelled

    def pause(self, seconds: float, *, honour_cancel: bool = True) -> None:
        """Wait up to `seconds`; a cancel or a shutdown cuts it short."""
        if seconds > 0:
            self.worker.wake.wait(seconds)
            self.worker.wake.clear()
        if honour_cancel:
            self.step()
        elif self.coordinator.should_leave(self.worker):
            raise Leaving

    def throttle(self, operation: str) -> None:
        """Wait for this replica's next slot of the account's quota of `operation`: Bedrock
        counts each document operation's requests per second apart (Ingest, Get, Delete), so
        checking statuses does not take turns from sending."""
        started = time.monotonic()
        woken = not self.limiter.wait(
            (*account_key(self.target.region, self.credentials), operation), self.worker.wake
        )
        self.throttled_seconds += time.monotonic() - started
        if woken:
            self.worker.wake.clear()
            self.step()
