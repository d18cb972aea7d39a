"""The webhooks and webhook_deliveries tables: webhooks with their URL encrypted, and one
delivery row per (webhook, execution, event), claimed by a conditional update.

Every replica may enqueue the same delivery (the unique key keeps one) and try to send it; only
the one whose claim succeeded sends it, and a claim expires, so a replica that died mid-delivery
leaves the delivery to another.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from kbsync_core.store.schema import (
    connections_table,
    executions_table,
    webhook_deliveries_table,
    webhooks_table,
)

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


@dataclass(frozen=True)
class WebhookRecord:
    id: str
    connection_id: str
    url_encrypted: str
    url_hint: str
    notify_completed: bool
    created_at: str


@dataclass(frozen=True)
class DeliveryRecord:
    id: int
    webhook_id: str
    execution_id: str
    event: str
    state: str
    attempts: int
    next_attempt_ms: int
    last_status: int | None
    last_error: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class EndedSync:
    """A sync that ended and a webhook that should hear of it (no delivery row yet)."""

    webhook_id: str
    execution_id: str
    status: str


class WebhookStore:
    """One short statement per operation, under the store's locks (see ExecutionStore)."""

    def __init__(self, engine: sa.engine.Engine, write_lock, read_lock):
        self._engine = engine
        self._write_lock = write_lock
        self._read_lock = read_lock

    # -- webhooks ------------------------------------------------------------------------------

    def insert(self, record: WebhookRecord) -> None:
        with self._write_lock, self._engine.begin() as connection:
            connection.execute(webhooks_table.insert().values(**record.__dict__))

    def delete(self, connection_id: str, webhook_id: str) -> bool:
        """False when the connection has no such webhook; its deliveries go with it."""
        deliveries = webhook_deliveries_table.delete().where(
            webhook_deliveries_table.c.webhook_id == webhook_id
        )
        statement = webhooks_table.delete().where(
            webhooks_table.c.id == webhook_id, webhooks_table.c.connection_id == connection_id
        )
        with self._write_lock, self._engine.begin() as connection:
            deleted = connection.execute(statement).rowcount == 1
            if deleted:
                # Not left to ON DELETE CASCADE: SQLite applies it only with foreign_keys on.
                connection.execute(deliveries)
            return deleted

    def get(self, webhook_id: str) -> WebhookRecord | None:
        query = sa.select(webhooks_table).where(webhooks_table.c.id == webhook_id)
        with self._read_lock, self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return WebhookRecord(**row) if row else None

    def of_connection(self, connection_id: str) -> list[WebhookRecord]:
        query = (
            sa.select(webhooks_table)
            .where(webhooks_table.c.connection_id == connection_id)
            .order_by(webhooks_table.c.created_at, webhooks_table.c.id)
        )
        with self._read_lock, self._engine.connect() as connection:
            return [WebhookRecord(**row) for row in connection.execute(query).mappings()]

    # -- what to notify ------------------------------------------------------------------------

    def ended_without_delivery(
        self, final_statuses: Iterable[str], completed_status: str, since: str
    ) -> list[EndedSync]:
        """Syncs of a webhook's connection's data source that ended at `since` or later (and
        after the webhook was added), of which the webhook has no delivery yet. Completed ones
        only for webhooks that asked for them; a start AWS refused because another sync ran
        (no job, a conflicting one named) never became a sync and is left out."""
        e, c, w, d = (
            executions_table.c,
            connections_table.c,
            webhooks_table.c,
            webhook_deliveries_table.c,
        )
        delivered = sa.exists().where(d.webhook_id == w.id, d.execution_id == e.id)
        query = (
            sa.select(w.id, e.id, e.status)
            .select_from(
                executions_table.join(
                    connections_table,
                    sa.and_(
                        c.region == e.region,
                        c.knowledge_base_id == e.knowledge_base_id,
                        c.data_source_id == e.data_source_id,
                    ),
                ).join(webhooks_table, w.connection_id == c.id)
            )
            .where(
                e.status.in_(list(final_statuses)),
                e.finished_at >= since,
                e.finished_at >= w.created_at,
                sa.not_(sa.and_(e.job_id.is_(None), e.conflict_job_id.is_not(None))),
                sa.or_(e.status != completed_status, w.notify_completed.is_(True)),
                sa.not_(delivered),
            )
            .order_by(e.finished_at)
        )
        with self._read_lock, self._engine.connect() as connection:
            return [EndedSync(*row) for row in connection.execute(query)]

    # -- deliveries ----------------------------------------------------------------------------

    def enqueue(self, rows: list[dict]) -> None:
        """Insert deliveries (webhook_id, execution_id, event, created_at, next_attempt_ms);
        one already there (another replica enqueued it) is left as it is."""
        if not rows:
            return
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        values = [
            {**row, "state": PENDING, "attempts": 0, "updated_at": row["created_at"]}
            for row in rows
        ]
        statement = dialect.insert(webhook_deliveries_table).on_conflict_do_nothing(
            index_elements=["webhook_id", "execution_id", "event"]
        )
        with self._write_lock, self._engine.begin() as connection:
            connection.execute(statement, values)

    def due(self, now_ms: int, limit: int) -> list[int]:
        """Pending deliveries whose time has come and that nobody holds, oldest first."""
        d = webhook_deliveries_table.c
        query = (
            sa.select(d.id)
            .where(
                d.state == PENDING,
                d.next_attempt_ms <= now_ms,
                sa.or_(d.claim_expires_ms.is_(None), d.claim_expires_ms < now_ms),
            )
            .order_by(d.next_attempt_ms, d.id)
            .limit(limit)
        )
        with self._read_lock, self._engine.connect() as connection:
            return list(connection.execute(query).scalars())

    def next_attempt_ms(self) -> int | None:
        """When the soonest pending delivery is due (None: none is pending); one held by a
        replica is due, if at all, once its claim expired."""
        d = webhook_deliveries_table.c
        due_at = sa.case(
            (d.claim_expires_ms > d.next_attempt_ms, d.claim_expires_ms),
            else_=d.next_attempt_ms,
        )
        query = sa.select(sa.func.min(due_at)).where(d.state == PENDING)
        with self._read_lock, self._engine.connect() as connection:
            return connection.execute(query).scalar()

    def claim(self, delivery_id: int, owner_id: str, now_ms: int, claim_ms: int) -> bool:
        """Hold the delivery to send it; False if it is not due, or another replica holds it
        (a conditional update: of two replicas, one wins)."""
        d = webhook_deliveries_table.c
        statement = (
            webhook_deliveries_table.update()
            .where(
                d.id == delivery_id,
                d.state == PENDING,
                d.next_attempt_ms <= now_ms,
                sa.or_(d.claim_expires_ms.is_(None), d.claim_expires_ms < now_ms),
            )
            .values(owner_id=owner_id, claim_expires_ms=now_ms + claim_ms)
        )
        with self._write_lock, self._engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def get_delivery(self, delivery_id: int) -> DeliveryRecord | None:
        query = sa.select(*_DELIVERY_COLUMNS).where(webhook_deliveries_table.c.id == delivery_id)
        with self._read_lock, self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return DeliveryRecord(**row) if row else None

    def settle(
        self,
        delivery_id: int,
        owner_id: str,
        *,
        state: str,
        attempts: int,
        next_attempt_ms: int,
        last_status: int | None,
        last_error: str | None,
        updated_at: str,
    ) -> bool:
        """Record an attempt's outcome and let the claim go; False if the claim was lost
        meanwhile (nothing is written)."""
        d = webhook_deliveries_table.c
        statement = (
            webhook_deliveries_table.update()
            .where(d.id == delivery_id, d.owner_id == owner_id, d.state == PENDING)
            .values(
                state=state,
                attempts=attempts,
                next_attempt_ms=next_attempt_ms,
                last_status=last_status,
                last_error=last_error,
                updated_at=updated_at,
                owner_id=None,
                claim_expires_ms=None,
            )
        )
        with self._write_lock, self._engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def deliveries_of(self, webhook_ids: list[str], limit: int) -> list[DeliveryRecord]:
        """The newest deliveries of these webhooks, newest first."""
        if not webhook_ids:
            return []
        d = webhook_deliveries_table.c
        query = (
            sa.select(*_DELIVERY_COLUMNS)
            .where(d.webhook_id.in_(webhook_ids))
            .order_by(d.created_at.desc(), d.id.desc())
            .limit(limit)
        )
        with self._read_lock, self._engine.connect() as connection:
            return [DeliveryRecord(**row) for row in connection.execute(query).mappings()]


_DELIVERY_COLUMNS = [
    webhook_deliveries_table.c[name] for name in DeliveryRecord.__dataclass_fields__
]
