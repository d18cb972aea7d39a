"""Table jobs (seed 004): rows of a SQL source's table into a knowledge base on a schedule,
and their runs, each slot claimed once per (job, slot).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "table_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("source_table", sa.String(400), nullable=False),
        sa.Column("content_columns", sa.JSON, nullable=False),
        sa.Column("filter_column", sa.String(200), nullable=False),
        sa.Column("row_id_columns", sa.JSON, nullable=False),
        sa.Column("kb_name", sa.String(200), nullable=False),
        sa.Column("connection_id", sa.String(64)),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("knowledge_base_id", sa.String(16), nullable=False),
        sa.Column("data_source_id", sa.String(16), nullable=False),
        sa.Column("interval", sa.String(32), nullable=False),
        sa.Column("start_at", sa.String(24), nullable=False),
        sa.Column("end_at", sa.String(24), nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("next_slot_at", sa.String(24)),
        sa.Column("watermark", sa.JSON),
        sa.Column("running_run_id", sa.String(36)),
        sa.Column("created_at", sa.String(24), nullable=False),
        sa.Column("updated_at", sa.String(24), nullable=False),
    )
    op.create_index("ix_table_jobs_next_slot_at", "table_jobs", ["next_slot_at"])
    op.create_table(
        "table_job_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "job_id",
            sa.String(36),
            sa.ForeignKey("table_jobs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("slot_at", sa.String(24), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claimed_by", sa.String(128), nullable=False),
        sa.Column("started_at", sa.String(24), nullable=False),
        sa.Column("heartbeat_at", sa.String(24)),
        sa.Column("finished_at", sa.String(24)),
        sa.Column("ingestion_job_id", sa.String(36)),
        sa.Column("rows_read", sa.Integer, nullable=False),
        sa.Column("rows_sent", sa.Integer, nullable=False),
        sa.Column("rows_skipped", sa.Integer, nullable=False),
        sa.Column("rows_failed", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("watermark_before", sa.JSON),
        sa.Column("watermark_after", sa.JSON),
        sa.UniqueConstraint("job_id", "slot_at", name="uq_table_job_runs_slot"),
    )
    op.create_index("ix_table_job_runs_job_started", "table_job_runs", ["job_id", "started_at"])
    op.create_index(
        "ix_table_job_runs_status_heartbeat", "table_job_runs", ["status", "heartbeat_at"]
    )
