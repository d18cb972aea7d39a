"""Webhooks per connection (URLs encrypted) and their deliveries, one per webhook, execution
and event.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "connection_id",
            sa.String(64),
            sa.ForeignKey("connections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("url_encrypted", sa.Text, nullable=False),
        sa.Column("url_hint", sa.String(200), nullable=False),
        sa.Column("notify_completed", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.String(24), nullable=False),
    )
    op.create_index("ix_webhooks_connection_id", "webhooks", ["connection_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "webhook_id",
            sa.String(36),
            sa.ForeignKey("webhooks.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("execution_id", sa.String(36), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_ms", sa.BigInteger, nullable=False),
        sa.Column("owner_id", sa.String(128)),
        sa.Column("claim_expires_ms", sa.BigInteger),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.String(24), nullable=False),
        sa.Column("updated_at", sa.String(24), nullable=False),
        sa.UniqueConstraint(
            "webhook_id", "execution_id", "event", name="uq_webhook_deliveries_once"
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_state_next", "webhook_deliveries", ["state", "next_attempt_ms"]
    )
