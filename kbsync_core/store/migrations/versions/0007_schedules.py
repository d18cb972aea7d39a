"""Schedules: syncs a connection runs by itself; each firing claimed once per (schedule, slot);
and the schedule that started an execution.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("connection_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("expression", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("start_at", sa.String(24)),
        sa.Column("end_at", sa.String(24)),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("next_slot_at", sa.String(24)),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(24), nullable=False),
        sa.Column("updated_at", sa.String(24), nullable=False),
    )
    op.create_index("ix_schedules_next_slot_at", "schedules", ["next_slot_at"])
    op.create_index("ix_schedules_connection_id", "schedules", ["connection_id"])
    op.create_table(
        "schedule_firings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "schedule_id",
            sa.String(36),
            sa.ForeignKey("schedules.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("slot_at", sa.String(24), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("execution_id", sa.String(36)),
        sa.Column("claimed_by", sa.String(128), nullable=False),
        sa.Column("claimed_at", sa.String(24), nullable=False),
        sa.Column("updated_at", sa.String(24), nullable=False),
        sa.Column("retry_at", sa.String(24)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.UniqueConstraint("schedule_id", "slot_at", name="uq_schedule_firings_slot"),
    )
    op.create_index("ix_schedule_firings_retry_at", "schedule_firings", ["retry_at"])
    # A plain ADD COLUMN (nullable, no default): no table copy on SQLite.
    op.add_column("executions", sa.Column("schedule_id", sa.String(36)))
