"""The machinery every kind of run shares: workers, leases, takeover, durable stop requests.

A run is created in the store already leased by the replica that creates it; that replica works
it in a background thread. Each kind (a sync today; content ingestion and table jobs next)
supplies only its work and what to do with a run nobody holds:

    coordinator = RunCoordinator(store.runs, owner_id, lease_seconds=30)
    coordinator.register_kind("sync", take_over=engine.handle_orphan)
    coordinator.start()                       # the lease keeper's thread
    coordinator.launch(lease, credentials, work)

The lease keeper renews, every third of a lease period, the leases of every run this replica
works (so a worker blocked in a slow AWS call does not lose its run), passes on stop requests
written by other replicas, and hands each active run whose lease expired to its kind's
`take_over` once a claim on it succeeded. A worker whose lease was lost (this replica stalled
past it and another took over) stops without writing.

Lifecycle (Datasette's database.py is the model): one owner per worker; `close()` sets a stop
signal, wakes every worker, joins each for a bounded time, warns about any that do not exit,
and releases the leases of the runs left unfinished so another replica takes them at once.
"""

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

from kbsync_core.models import AwsCredentials
from kbsync_core.store.runs import Lease, LeaseLostError, RunRecord, RunStore

logger = logging.getLogger(__name__)

SHUTDOWN_JOIN_SECONDS = 10.0
KEEPER_JOIN_SECONDS = 5.0
# The keeper acts this many times per lease period: a lease survives two missed renewals.
RENEWALS_PER_LEASE = 3


def new_owner_id(hostname: str, pid: int) -> str:
    """A replica's name in leases: readable (host, pid) and unique across restarts."""
    return f"{hostname}-{pid}-{uuid.uuid4().hex[:8]}"


class RunClosedError(RuntimeError):
    """The coordinator is shutting down and takes no new work."""


@dataclass
class Worker:
    """One run being worked by this replica: its lease, thread and in-memory credentials."""

    lease: Lease
    credentials: AwsCredentials = field(repr=False)
    # Set when someone asked for the run to stop (here or on another replica).
    stop_requested: threading.Event = field(default_factory=threading.Event)
    # Set to cut a wait short: a stop request, a lost lease, or the process shutting down.
    wake: threading.Event = field(default_factory=threading.Event)
    lease_lost: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    # What the kind's work keeps between steps (a sync: its target).
    details: dict = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.lease.run_id


@dataclass(frozen=True)
class _Kind:
    take_over: Callable[[RunRecord, Lease], None]
    can_take_over: Callable[[RunRecord], bool]


class RunCoordinator:
    """This replica's workers and their leases; one per process, shared by every kind."""

    def __init__(self, runs: RunStore, owner_id: str, lease_seconds: float):
        self.runs = runs
        self.owner_id = owner_id
        self.lease_seconds = lease_seconds
        self._kinds: dict[str, _Kind] = {}
        self._workers: dict[str, Worker] = {}
        # Runs a thread of this replica is claiming right now (see adopt()).
        self._adopting: set[str] = set()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._keeper: threading.Thread | None = None
        # Called after each of the keeper's turns (what the replica counts every few seconds).
        self._turn_listeners: list[Callable[[], None]] = []

    def lease_for(self, run_id: str) -> Lease:
        return Lease(run_id, self.owner_id, self.lease_seconds)

    @property
    def keeper_interval(self) -> float:
        return self.lease_seconds / RENEWALS_PER_LEASE

    @property
    def is_closing(self) -> bool:
        return self._closing.is_set()

    # -- kinds and workers ---------------------------------------------------------------------

    def register_kind(
        self,
        kind: str,
        take_over: Callable[[RunRecord, Lease], None],
        can_take_over: Callable[[RunRecord], bool],
    ) -> None:
        """`take_over(run, lease)` is called with a run of `kind` nobody works (its lease
        expired, or it was interrupted) once this replica claimed it: resume it, end it, or
        interrupt it. `can_take_over(run)` says beforehand whether this replica would do
        anything with it (an interrupted run waits for a replica with credentials)."""
        self._kinds[kind] = _Kind(take_over, can_take_over)

    def launch(
        self,
        lease: Lease,
        credentials: AwsCredentials,
        work: Callable[[Worker], None],
        name: str = "kbsync-run",
    ) -> Worker | None:
        """Work a run this replica holds in a new thread; None if a worker already has it."""
        with self._lock:
            if self._closing.is_set():
                raise RunClosedError("kbsync is shutting down.")
            if lease.run_id in self._workers:
                return None
            worker = Worker(lease, credentials)
            self._workers[lease.run_id] = worker
        worker.thread = threading.Thread(
            target=self._run, args=(worker, work), name=f"{name}-{lease.run_id[:8]}", daemon=True
        )
        worker.thread.start()
        return worker

    def adopt(
        self, run_id: str, from_states: Iterable[str], begin: Callable[[Lease], None]
    ) -> bool:
        """Claim a run nobody works and `begin(lease)` it (launch a worker, or end it).

        False, doing nothing, when the claim fails (another replica holds it), when this
        replica already works it, or when another of its threads is adopting it right now:
        the claim, what `begin` records and the launch happen once per run. If `begin` fails,
        the run is released for someone else to try.
        """
        with self._lock:
            if self._closing.is_set() or run_id in self._workers or run_id in self._adopting:
                return False
            self._adopting.add(run_id)
        try:
            lease = self.lease_for(run_id)
            if not self.runs.claim(lease, from_states=from_states):
                return False
            try:
                begin(lease)
            except BaseException:
                self.runs.release(lease)
                raise
            return True
        finally:
            with self._lock:
                self._adopting.discard(run_id)

    def _run(self, worker: Worker, work: Callable[[Worker], None]) -> None:
        try:
            work(worker)
        except LeaseLostError:
            logger.warning(
                "Run %s was taken over by another replica; this one stops working it.",
                worker.run_id,
            )
        finally:
            with self._lock:
                self._workers.pop(worker.run_id, None)

    def worker(self, run_id: str) -> Worker | None:
        with self._lock:
            return self._workers.get(run_id)

    def running_count(self) -> int:
        with self._lock:
            return len(self._workers)

    def checkpoint(self, worker: Worker) -> None:
        """A worker's step: renew its lease and learn of a stop requested anywhere.

        Raises LeaseLostError when the run is no longer this replica's.
        """
        try:
            if self.runs.checkpoint(worker.lease):
                worker.stop_requested.set()
        except LeaseLostError:
            worker.lease_lost.set()
            raise

    def should_leave(self, worker: Worker) -> bool:
        """The worker must stop where it is, writing nothing more: shutdown or a lost lease."""
        return self._closing.is_set() or worker.lease_lost.is_set()

    # -- requests ----------------------------------------------------------------------------

    def request_stop(self, run_id: str, requested_at: str) -> bool:
        """Write the stop request, then wake this replica's worker if it has one. Once this
        returns True the request is durable: whoever works the run honours it."""
        if not self.runs.request_stop(run_id, requested_at):
            return False
        worker = self.worker(run_id)
        if worker is not None:
            worker.stop_requested.set()
            worker.wake.set()
        return True

    # -- the lease keeper --------------------------------------------------------------------

    def start(self) -> None:
        """Take over what needs it now, then keep leases in a background thread."""
        self.sweep()
        self._keeper = threading.Thread(target=self._keep, name="kbsync-lease-keeper", daemon=True)
        self._keeper.start()

    def on_keeper_turn(self, listener: Callable[[], None]) -> None:
        """Call `listener()` at the start and after each turn of the lease keeper."""
        self._turn_listeners.append(listener)

    def _keep(self) -> None:
        self._tell_turn_listeners()
        while not self._closing.wait(self.keeper_interval):
            try:
                self.renew()
                self.sweep()
                self._tell_turn_listeners()
            except Exception:
                # A database that is briefly unreachable must not end the keeper: leases are
                # renewed again at the next turn, well within their period.
                logger.exception("The lease keeper's turn failed; it tries again shortly.")

    def _tell_turn_listeners(self) -> None:
        for listener in self._turn_listeners:
            try:
                listener()
            except Exception:
                logger.exception("A lease keeper's listener failed; it is called again next turn.")

    def renew(self) -> None:
        """Renew every lease this replica's workers hold; tell each what the store says."""
        with self._lock:
            workers = dict(self._workers)
        held = self.runs.renew_all(self.owner_id, list(workers), self.lease_seconds)
        for run_id, worker in workers.items():
            if run_id not in held:
                worker.lease_lost.set()
                worker.wake.set()
            elif held[run_id] and not worker.stop_requested.is_set():
                worker.stop_requested.set()
                worker.wake.set()

    def sweep(self) -> None:
        """Adopt each run of a registered kind that nobody works and that this replica can
        take over, and hand it to its kind."""
        for kind_name, kind in self._kinds.items():
            for run in self.runs.unattended(kind_name):
                if self._closing.is_set():
                    return
                if not kind.can_take_over(run):
                    continue
                try:
                    self.adopt(run.id, (run.state,), partial(kind.take_over, run))
                except Exception:
                    logger.exception("Taking over run %s failed; it was released.", run.id)

    # -- shutting down -----------------------------------------------------------------------

    def close(self, timeout: float = SHUTDOWN_JOIN_SECONDS) -> None:
        """Stop taking work, let the workers leave, release their runs; idempotent."""
        with self._lock:
            if self._closing.is_set():
                return
            self._closing.set()
            workers = list(self._workers.values())
        for worker in workers:
            worker.wake.set()
        if self._keeper is not None:
            self._keeper.join(KEEPER_JOIN_SECONDS)
        for worker in workers:
            if worker.thread is not None:
                worker.thread.join(timeout)
                if worker.thread.is_alive():
                    logger.warning(
                        "The worker of run %s did not exit within %.0f s; its lease will "
                        "expire and another replica will take the run over.",
                        worker.run_id, timeout,
                    )
                    continue
            # Still unfinished: give it up now rather than make others wait out the lease.
            self.runs.release(worker.lease)
