"""The runs table: leases and durable requests, whatever the kind of work.

A replica works a run only while it holds the run's lease: its owner id and an expiry, taken
and renewed with conditional updates, so two replicas can never both believe they hold it.
A lease that was not renewed in time (its replica died or hung) can be claimed by another.
"""

import time
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kbsync_core.store.schema import runs_table

ACTIVE = "active"
INTERRUPTED = "interrupted"
ENDED = "ended"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Lease:
    """A claim on one run: held by `owner_id`, renewed for `seconds` at each step."""

    run_id: str
    owner_id: str
    seconds: float

    def expiry_from(self, moment_ms: int) -> int:
        return moment_ms + int(self.seconds * 1000)


@dataclass(frozen=True)
class RunRecord:
    id: str
    kind: str
    state: str
    owner_id: str | None
    lease_expires_ms: int | None
    stop_requested: bool
    credential_source: str
    profile_name: str | None
    connection_id: str | None = None

    def is_held_at(self, moment_ms: int) -> bool:
        """Someone holds an unexpired lease on it."""
        return (
            self.owner_id is not None
            and self.lease_expires_ms is not None
            and self.lease_expires_ms >= moment_ms
        )


class LeaseLostError(RuntimeError):
    """This replica no longer holds the run's lease: another replica took the run over (this
    one stalled past the lease), or the run ended. Whatever was being written was not."""


def insert_run(
    connection: Connection,
    run_id: str,
    kind: str,
    created_at: str,
    lease: Lease | None,
    credential_source: str,
    profile_name: str | None,
    connection_id: str | None = None,
) -> None:
    """A new active run, held by `lease` from its first moment when one is given."""
    connection.execute(
        runs_table.insert().values(
            id=run_id,
            kind=kind,
            state=ACTIVE,
            owner_id=lease.owner_id if lease else None,
            lease_expires_ms=lease.expiry_from(now_ms()) if lease else None,
            credential_source=credential_source,
            profile_name=profile_name,
            connection_id=connection_id,
            created_at=created_at,
        )
    )


def held(lease: Lease):
    """The run's row, while `lease` holds it and the run is still to be worked."""
    return sa.and_(
        runs_table.c.id == lease.run_id,
        runs_table.c.owner_id == lease.owner_id,
        runs_table.c.state == ACTIVE,
    )


def renew_within(connection: Connection, lease: Lease) -> None:
    """Renew `lease` inside the caller's transaction; LeaseLostError if it is not held.

    The caller writes the run's changes in the same transaction: a replica that lost its
    lease cannot write anything about the run.
    """
    result = connection.execute(
        runs_table.update().where(held(lease)).values(lease_expires_ms=lease.expiry_from(now_ms()))
    )
    if result.rowcount != 1:
        raise LeaseLostError(lease.run_id)


def end_within(connection: Connection, run_id: str) -> None:
    """The run is over: nobody needs to hold or take it any more."""
    connection.execute(
        runs_table.update()
        .where(runs_table.c.id == run_id)
        .values(state=ENDED, owner_id=None, lease_expires_ms=None)
    )


class RunStore:
    """Lease and request operations on the runs table; each is one short transaction."""

    def __init__(self, engine: sa.engine.Engine, write_lock, read_lock):
        self._engine = engine
        self._write_lock = write_lock
        self._read_lock = read_lock

    def _write(self, statement) -> int:
        with self._write_lock, self._engine.begin() as connection:
            return connection.execute(statement).rowcount

    def claim(self, lease: Lease, *, from_states: Iterable[str] = (ACTIVE,)) -> bool:
        """Take the run if nobody holds an unexpired lease on it (or we already do)."""
        moment = now_ms()
        claimable = sa.or_(
            runs_table.c.owner_id.is_(None),
            runs_table.c.owner_id == lease.owner_id,
            runs_table.c.lease_expires_ms < moment,
        )
        return (
            self._write(
                runs_table.update()
                .where(
                    runs_table.c.id == lease.run_id,
                    runs_table.c.state.in_(list(from_states)),
                    claimable,
                )
                .values(
                    owner_id=lease.owner_id,
                    lease_expires_ms=lease.expiry_from(moment),
                    state=ACTIVE,
                )
            )
            == 1
        )

    def checkpoint(self, lease: Lease) -> bool:
        """Renew the lease and say whether a stop was requested, in one statement;
        LeaseLostError if the lease is not held."""
        with self._write_lock, self._engine.begin() as connection:
            row = connection.execute(
                runs_table.update()
                .where(held(lease))
                .values(lease_expires_ms=lease.expiry_from(now_ms()))
                .returning(runs_table.c.stop_requested_at)
            ).first()
        if row is None:
            raise LeaseLostError(lease.run_id)
        return row.stop_requested_at is not None

    def renew_all(self, owner_id: str, run_ids: list[str], seconds: float) -> dict[str, bool]:
        """Renew every lease `owner_id` holds among `run_ids`, in one statement.

        Returns the runs still held, each with whether a stop was requested; a run missing from
        the answer is no longer ours.
        """
        if not run_ids:
            return {}
        mine = sa.and_(
            runs_table.c.id.in_(run_ids),
            runs_table.c.owner_id == owner_id,
            runs_table.c.state == ACTIVE,
        )
        expiry = now_ms() + int(seconds * 1000)
        with self._write_lock, self._engine.begin() as connection:
            connection.execute(runs_table.update().where(mine).values(lease_expires_ms=expiry))
            rows = connection.execute(
                sa.select(runs_table.c.id, runs_table.c.stop_requested_at).where(mine)
            )
            return {run_id: stop_requested is not None for run_id, stop_requested in rows}

    def release(self, lease: Lease) -> None:
        """Give the run up (a clean shutdown): any replica may take it over at once."""
        self._write(
            runs_table.update()
            .where(runs_table.c.id == lease.run_id, runs_table.c.owner_id == lease.owner_id)
            .values(owner_id=None, lease_expires_ms=None)
        )

    def interrupt(self, lease: Lease) -> bool:
        """Nobody can work the run for now (no credentials): park it until someone can."""
        return (
            self._write(
                runs_table.update()
                .where(held(lease))
                .values(state=INTERRUPTED, owner_id=None, lease_expires_ms=None)
            )
            == 1
        )

    def request_stop(self, run_id: str, requested_at: str) -> bool:
        """Record a stop request durably; False if the run has already ended."""
        return (
            self._write(
                runs_table.update()
                .where(runs_table.c.id == run_id, runs_table.c.state != ENDED)
                .values(
                    stop_requested_at=sa.func.coalesce(
                        runs_table.c.stop_requested_at, requested_at
                    )
                )
            )
            == 1
        )

    def get(self, run_id: str) -> RunRecord | None:
        with self._read_lock, self._engine.connect() as connection:
            row = connection.execute(
                sa.select(runs_table).where(runs_table.c.id == run_id)
            ).mappings().first()
        return _record(row) if row else None

    def live_owners(self, kind: str) -> set[str]:
        """The replicas holding an unexpired lease on an active run of `kind` now."""
        query = sa.select(runs_table.c.owner_id).distinct().where(
            runs_table.c.kind == kind,
            runs_table.c.state == ACTIVE,
            runs_table.c.owner_id.is_not(None),
            runs_table.c.lease_expires_ms >= now_ms(),
        )
        with self._read_lock, self._engine.connect() as connection:
            return set(connection.execute(query).scalars())

    def unattended(self, kind: str, limit: int = 100) -> list[RunRecord]:
        """Runs of `kind` nobody works: active ones nobody holds (their replica died, hung or
        shut down), and interrupted ones (waiting for a replica with credentials)."""
        query = (
            sa.select(runs_table)
            .where(
                runs_table.c.kind == kind,
                sa.or_(
                    sa.and_(
                        runs_table.c.state == ACTIVE,
                        sa.or_(
                            runs_table.c.owner_id.is_(None),
                            runs_table.c.lease_expires_ms < now_ms(),
                        ),
                    ),
                    runs_table.c.state == INTERRUPTED,
                ),
            )
            .order_by(runs_table.c.created_at)
            .limit(limit)
        )
        with self._read_lock, self._engine.connect() as connection:
            return [_record(row) for row in connection.execute(query).mappings()]


def _record(row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        kind=row["kind"],
        state=row["state"],
        owner_id=row["owner_id"],
        lease_expires_ms=row["lease_expires_ms"],
        stop_requested=row["stop_requested_at"] is not None,
        credential_source=row["credential_source"],
        profile_name=row["profile_name"],
        connection_id=row["connection_id"],
    )
