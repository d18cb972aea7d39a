"""Content ingestion: jobs (runs of kind "ingestion"), their staged records, and the content
hash of every document kbsync put into a data source.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingestion_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("knowledge_base_id", sa.String(16), nullable=False),
        sa.Column("data_source_id", sa.String(16), nullable=False),
        sa.Column("data_source_type", sa.String(16), nullable=False),
        sa.Column("connection_id", sa.String(64)),
        sa.Column("adapter", sa.String(64), nullable=False),
        sa.Column("force", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(24), nullable=False),
        sa.Column("started_at", sa.String(24)),
        sa.Column("completed_at", sa.String(24)),
        sa.Column("updated_at", sa.String(24), nullable=False),
        sa.Column("record_count", sa.Integer, nullable=False),
        sa.Column("processed", sa.Integer, nullable=False),
        sa.Column("successful", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("skipped", sa.Integer, nullable=False),
        sa.Column("entries_created", sa.Integer, nullable=False),
        sa.Column("entries_deleted", sa.Integer, nullable=False),
        sa.Column("sent", sa.Integer, nullable=False),
        sa.Column("sync_execution_id", sa.String(36)),
        sa.Column("error", sa.Text),
        sa.Column("payload", sa.LargeBinary),
    )
    op.create_index("ix_ingestion_jobs_created_at", "ingestion_jobs", ["created_at"])
    op.create_index(
        "ix_ingestion_jobs_status_created_at", "ingestion_jobs", ["status", "created_at"]
    )
    op.create_table(
        "ingestion_records",
        sa.Column(
            "job_id",
            sa.String(36),
            sa.ForeignKey("ingestion_jobs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("source_id", sa.Text, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16)),
        sa.Column("batch", sa.Integer),
        sa.Column("status", sa.String(16)),
        sa.Column("entry_id", sa.Text),
        sa.Column("aws_status", sa.String(32)),
        sa.Column("error", sa.Text),
    )
    op.create_index(
        "ix_ingestion_records_job_state", "ingestion_records", ["job_id", "state", "position"]
    )
    op.create_table(
        "ingestion_hashes",
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("knowledge_base_id", sa.String(16), primary_key=True),
        sa.Column("data_source_id", sa.String(16), primary_key=True),
        sa.Column("document_digest", sa.String(64), primary_key=True),
        sa.Column("document_id", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("updated_at", sa.String(24), nullable=False),
    )
