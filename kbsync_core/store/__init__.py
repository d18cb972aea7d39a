"""Where kbsync keeps its work: SQLAlchemy Core over SQLite or PostgreSQL, schema by Alembic.

`ExecutionStore` is the entry point: it opens the database (upgrading its schema first) and
carries the runs table's operations as `.runs`.
"""

from kbsync_core.store.executions import DEFAULT_LIST_LIMIT, SYNC_KIND, ExecutionStore
from kbsync_core.store.runs import Lease, LeaseLostError, RunRecord

__all__ = [
    "DEFAULT_LIST_LIMIT",
    "SYNC_KIND",
    "ExecutionStore",
    "Lease",
    "LeaseLostError",
    "RunRecord",
]
