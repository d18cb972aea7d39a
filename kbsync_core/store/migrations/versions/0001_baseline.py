"""Baseline: the schema of kbsync 0.1.0, which created its tables without migrations.

A database written by 0.1.0 is stamped with this revision (not re-created) on its first start
under a newer kbsync; a new database is created by running it.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "executions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("knowledge_base_id", sa.String(16), nullable=False),
        sa.Column("data_source_id", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.String(24), nullable=False),
        sa.Column("finished_at", sa.String(24)),
        sa.Column("updated_at", sa.String(24)),
        sa.Column("job_id", sa.String(16)),
        sa.Column("aws_status", sa.String(16)),
        sa.Column("statistics", sa.JSON, nullable=False),
        sa.Column("failure_reasons", sa.JSON, nullable=False),
        sa.Column("interrupted", sa.Boolean, nullable=False),
        sa.Column("conflict_job_id", sa.String(16)),
    )
    op.create_index(
        "ix_executions_target_started",
        "executions",
        ["region", "knowledge_base_id", "data_source_id", "started_at"],
    )
    op.create_index("ix_executions_job_id", "executions", ["job_id"])
    op.create_index("ix_executions_status", "executions", ["status"])
    op.create_table(
        "execution_logs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "execution_id",
            sa.String(36),
            sa.ForeignKey("executions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("line", sa.Text, nullable=False),
    )
    op.create_index("ix_execution_logs_execution_id", "execution_logs", ["execution_id"])
