"""The process-wide registry: one store, one engine, one history service for every session.

The console and the JSON routes both reach kbsync through the `Kbsync` instance of their
process, so a sync started by either is seen by both.
"""

import logging
import os
import socket
import threading

from kbsync_core.activity import DataSourceActivity
from kbsync_core.aws import AwsClients
from kbsync_core.config import Settings, load_settings
from kbsync_core.connections import Connections, sandbox_connection_bodies
from kbsync_core.history import HistoryService
from kbsync_core.ingestion.jobs import IngestionJobs
from kbsync_core.models import AwsCredentials, SyncTarget
from kbsync_core.notifications.notifier import WebhookNotifier
from kbsync_core.notifications.webhooks import Webhooks
from kbsync_core.progress import SyncProgress
from kbsync_core.reads import ExecutionReads
from kbsync_core.runs import RunCoordinator, new_owner_id
from kbsync_core.scheduler import Scheduler, scaled_clock
from kbsync_core.schedules import Schedules
from kbsync_core.secretbox import load_secret_box
from kbsync_core.store import ExecutionStore
from kbsync_core.sync import SyncEngine
from kbsync_core.tables.jobs import TableJobs
from kbsync_core.tables.sample import SAMPLE_SOURCE, ensure_sample, sample_path
from kbsync_core.tables.sources import load_sources
from kbsync_core.tokens import ApiTokens

logger = logging.getLogger(__name__)


def process_credentials(settings: Settings) -> AwsCredentials | None:
    """Credentials the process has of its own, to take over runs whose replica died: boto3's
    default chain (environment, profile, an assumed role, instance role), only where the server
    is configured to lend its identity (KBSYNC_ALLOW_AMBIENT_CREDENTIALS)."""
    return AwsCredentials() if settings.allow_ambient_credentials else None


def ingestion_credentials(settings: Settings) -> AwsCredentials | None:
    """The identity ingestion jobs use for a knowledge base named by id (not a connection):
    the server's own where it lends it, and the sandbox's (which takes any) on the sandbox."""
    if settings.uses_sandbox:
        return AwsCredentials()
    return process_credentials(settings)


def default_region(settings: Settings) -> str | None:
    """Where a knowledge base named by id alone is: the sandbox's, or boto3's default region
    (AWS_REGION, AWS_DEFAULT_REGION, the profile's)."""
    if settings.uses_sandbox:
        from kbsync_sandbox import SANDBOX_REGION

        return SANDBOX_REGION
    import boto3

    return boto3.session.Session().region_name


class Kbsync:
    """Everything one kbsync process shares; `open()` it once, `close()` it once."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.sandbox = None
        # What the console offers to fill in: the sandbox's sample data source, on the sandbox.
        self.suggested_target: SyncTarget | None = None
        if settings.uses_sandbox:
            # Imported here only: the sandbox brings moto, which a real-AWS process never loads.
            from kbsync_sandbox import (
                SANDBOX_DATA_SOURCE_ID,
                SANDBOX_KNOWLEDGE_BASE_ID,
                SANDBOX_REGION,
                Sandbox,
            )

            self.sandbox = Sandbox(speed=settings.sandbox_speed)
            self.sandbox.start()
            self.suggested_target = SyncTarget(
                SANDBOX_REGION, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_DATA_SOURCE_ID
            )
        self.store = ExecutionStore(settings.database_url)
        # Who may call the JSON API: the stored tokens, and KBSYNC_API_TOKEN.
        self.tokens = ApiTokens(self.store.tokens, settings.api_token)
        # This replica's name in leases and in the User-Agent of its AWS calls.
        self.owner_id = new_owner_id(socket.gethostname(), os.getpid())
        self.clients = AwsClients(settings, caller_id=self.owner_id)
        self.coordinator = RunCoordinator(self.store.runs, self.owner_id, settings.lease_seconds)
        # Saved targets acting with the server's own identity; every replica resolves them.
        self.connections = Connections(self.store.connections, self.clients)
        if settings.uses_sandbox:
            # `make run` shows these and syncs from them with no AWS account.
            for body in sandbox_connection_bodies():
                self.connections.ensure(body)
            # The embedded sandbox starts empty (its documents and buckets live in this
            # process): what kbsync remembers having put into it is forgotten, or unchanged
            # records would be skipped, and table rows left unread, against a sandbox that
            # holds none of them.
            self.store.ingestion.forget_hashes()
            self.store.table_jobs.forget_watermarks()
        # How far a running sync is and when it should end (GET /api/sync, the console, and
        # the engine's polls, which cluster around a sync's expected end).
        self.progress = SyncProgress(self.store, poll_seconds=settings.poll_seconds)
        self.engine = SyncEngine(
            settings,
            self.store,
            self.clients,
            self.coordinator,
            takeover_credentials=process_credentials(settings),
            # The embedded sandbox starts empty: the jobs of a process that died died with it.
            jobs_outlive_process=not settings.uses_sandbox,
            connection_credentials=self.connections.credentials_by_id,
            expected_seconds=self.progress.expected_seconds,
            expects_documents=self.progress.expects_documents,
        )
        self.history = HistoryService(self.engine, self.clients)
        # Whether a sync runs on a data source now (the Sync page asks it every few seconds).
        self.activity = DataSourceActivity(self.store, self.history)
        # What GET /api/sync and the console's panels read: pollers share recent reads.
        self.reads = ExecutionReads(self.store)
        # Webhook URLs are stored encrypted with this (None: on aws without KBSYNC_SECRET_KEY).
        secrets = load_secret_box(settings)
        self.webhooks = Webhooks(
            self.store.webhooks, self.connections, secrets, console_url=settings.console_url
        )
        # Tells the webhooks of syncs that ended; woken by every write of an execution.
        self.notifier = WebhookNotifier(
            self.store, secrets, self.owner_id, console_url=settings.console_url
        )
        self.store.on_write(self.notifier.wake)
        # Schedules, and the thread that fires them (started by open()); one clock for both,
        # so a schedule's first slot and its firing agree (sped up in tests only).
        scheduler_clock = scaled_clock(settings.scheduler_clock_speed)
        self.schedules = Schedules(self.store.schedules, self.connections, scheduler_clock)
        self.scheduler = Scheduler(
            self.store,
            self.connections,
            self.engine,
            self.clients,
            self.owner_id,
            clock=scheduler_clock,
            tick_seconds=settings.scheduler_tick_seconds,
        )
        # Ingestion jobs (seed 002): records into a knowledge base, worked as runs.
        self.ingestion = IngestionJobs(
            settings,
            self.store,
            self.clients,
            self.coordinator,
            self.engine,
            self.connections,
            server_credentials=ingestion_credentials(settings),
            default_region=default_region(settings),
        )
        # Table jobs (seed 004): rows of named SQL sources into knowledge bases, on the
        # scheduler's clock; on the sandbox, with the sample source orders_db.
        self.sources = load_sources(settings.sources_file)
        sample_file = None
        if settings.uses_sandbox and self.sources.get(SAMPLE_SOURCE) is None:
            sample_file = sample_path(settings.database_url)
            self.sources.add(ensure_sample(sample_file))
        self.table_jobs = TableJobs(
            self.store.table_jobs,
            self.sources,
            self.ingestion,
            self.clients,
            self.owner_id,
            clock=scheduler_clock,
            tick_seconds=settings.scheduler_tick_seconds,
            sample_file=sample_file,
        )
        self._closed = False

    @classmethod
    def open(cls, settings: Settings | None = None) -> "Kbsync":
        """Open the store (upgrading its schema), take over what was left without a live
        replica, and keep the leases of this replica's runs from now on."""
        kbsync = cls(settings or load_settings())
        kbsync.coordinator.start()
        kbsync.notifier.start()
        kbsync.scheduler.start()
        kbsync.table_jobs.start()
        return kbsync

    def close(self) -> None:
        """Idempotent: stop the workers (releasing their runs), close the store, leave the
        sandbox."""
        if self._closed:
            return
        self._closed = True
        self.scheduler.close()  # first: no firing starts a run the coordinator then drops
        self.table_jobs.close()
        self.coordinator.close()
        self.notifier.close()
        self.sources.close()
        self.store.close()
        if self.sandbox is not None:
            self.sandbox.stop()


_instance: Kbsync | None = None
_instance_lock = threading.Lock()


def get_kbsync() -> Kbsync:
    """This process's Kbsync, opened on first use from the environment's settings."""
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = Kbsync.open()
        return _instance


def close_kbsync() -> None:
    """Close this process's Kbsync, if it was opened; the next get_kbsync() opens a new one."""
    global _instance
    with _instance_lock:
        if _instance is not None:
            _instance.close()
            _instance = None


def install_kbsync(kbsync: Kbsync | None) -> None:
    """Make `kbsync` this process's instance (tests, or a host embedding kbsync); None forgets
    the current one without closing it."""
    global _instance
    with _instance_lock:
        _instance = kbsync
