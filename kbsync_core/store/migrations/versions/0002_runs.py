"""Runs: one row per piece of work, with its owner, lease, state and stop request.

Every existing execution becomes a sync run: ended if its status is final, interrupted if
0.1.0 had marked it so, otherwise active with no owner, so that the first replica to look
takes it over (or marks it interrupted) as its policy says. `executions.interrupted` moves
into `runs.state`.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.String(128)),
        sa.Column("lease_expires_ms", sa.BigInteger),
        sa.Column("stop_requested_at", sa.String(24)),
        sa.Column("credential_source", sa.String(16), nullable=False),
        sa.Column("profile_name", sa.String(128)),
        sa.Column("created_at", sa.String(24), nullable=False),
    )
    op.create_index("ix_runs_state_lease", "runs", ["state", "lease_expires_ms"])
    op.execute(
        """
        INSERT INTO runs (id, kind, state, credential_source, created_at)
        SELECT id, 'sync',
               CASE
                   WHEN status IN ('COMPLETADO', 'FALLIDO', 'DETENIDO') THEN 'ended'
                   WHEN interrupted THEN 'interrupted'
                   ELSE 'active'
               END,
               'keys', started_at
        FROM executions
        """
    )
    # A plain ALTER TABLE (PostgreSQL; SQLite 3.35+): no copy of the table, whose logs a
    # copy-and-rename would cascade-delete.
    op.execute("ALTER TABLE executions DROP COLUMN interrupted")
