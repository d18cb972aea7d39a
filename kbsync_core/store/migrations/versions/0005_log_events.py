"""Log events: an execution's log stored as events (UTC time, event, values), not as sentences;
and who started each execution (its trigger).

Every stored line `[<d/m/yyyy, H:MM:SS>] <text>` becomes an event: its time read in the
server's local zone, as it was written, and its text matched against the Spanish templates of
kbsync_core/events.py's catalogue to recover the event and its values. A text that matches none
becomes a `text` event holding it; a line whose time cannot be read back exactly as it was
written becomes a `line` event holding the whole line. Either way the API renders every line
byte for byte as before: nothing is lost. Existing executions' trigger stays NULL (unknown).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from kbsync_core.events import parse_seed_line

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH_ROWS = 5000
# The time of a line that shows none, of an execution that is gone (never seen: logs cascade).
UNKNOWN_TIME = "1970-01-01T00:00:00.000Z"

_logs = sa.table(
    "execution_logs",
    sa.column("id", sa.Integer),
    sa.column("execution_id", sa.String),
    sa.column("line", sa.Text),
    sa.column("at", sa.String),
    sa.column("event", sa.String),
    sa.column("event_values", sa.JSON),
)
_executions = sa.table("executions", sa.column("id", sa.String), sa.column("started_at", sa.String))


def upgrade() -> None:
    # Plain ADD COLUMNs (nullable, no default): no table copy on SQLite.
    op.add_column("executions", sa.Column("trigger", sa.String(16)))
    op.add_column("execution_logs", sa.Column("at", sa.String(24)))
    op.add_column("execution_logs", sa.Column("event", sa.String(32)))
    op.add_column("execution_logs", sa.Column("event_values", sa.JSON))
    convert_lines(op.get_bind())
    # A plain ALTER TABLE (PostgreSQL; SQLite 3.35+), as in 0002.
    op.execute("ALTER TABLE execution_logs DROP COLUMN line")


def convert_lines(connection) -> None:
    """Each stored line as its event, a batch at a time, in the order the lines were written."""
    update = (
        _logs.update()
        .where(_logs.c.id == sa.bindparam("row_id"))
        .values(
            at=sa.bindparam("new_at"),
            event=sa.bindparam("new_event"),
            event_values=sa.bindparam("new_values", type_=sa.JSON),
        )
    )
    # An execution's latest time so far: the time of a line that shows none.
    last_at: dict[str, str] = {}
    after = -1
    while True:
        rows = connection.execute(
            sa.select(_logs.c.id, _logs.c.execution_id, _logs.c.line, _executions.c.started_at)
            .select_from(_logs.outerjoin(_executions, _executions.c.id == _logs.c.execution_id))
            .where(_logs.c.id > after)
            .order_by(_logs.c.id)
            .limit(BATCH_ROWS)
        ).all()
        if not rows:
            return
        changes = []
        for row_id, execution_id, line, started_at in rows:
            fallback = last_at.get(execution_id) or started_at or UNKNOWN_TIME
            event = parse_seed_line(line, fallback)
            last_at[execution_id] = event.at
            changes.append(
                {
                    "row_id": row_id,
                    "new_at": event.at,
                    "new_event": event.event,
                    "new_values": dict(event.values),
                }
            )
        connection.execute(update, changes)
        after = rows[-1][0]
