"""Connections: saved targets whose credentials come from the server's own identity; and the
connection a run works with.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("knowledge_base_id", sa.String(16), nullable=False),
        sa.Column("data_source_id", sa.String(16), nullable=False),
        sa.Column("credentials", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(24), nullable=False),
        sa.Column("updated_at", sa.String(24), nullable=False),
    )
    # A plain ADD COLUMN (nullable, no default): no table copy on SQLite.
    op.add_column("runs", sa.Column("connection_id", sa.String(64)))
