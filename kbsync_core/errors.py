"""kbsync's domain errors: what the core raises when it cannot do what was asked.

The core knows no HTTP and no widgets: the JSON API (kbsync_api) and the console (kbsync_ui)
translate these, and only these, into statuses and messages. Each message is written for an
operator and never holds a secret.
"""

from kbsync_core.store.database import DatabaseError
from kbsync_core.store.runs import LeaseLostError


class KbsyncError(Exception):
    """Base of the errors below."""


class ExecutionNotFoundError(KbsyncError, LookupError):
    """No execution has that id."""


class ExecutionFinishedError(KbsyncError):
    """The execution already ended; there is nothing to stop."""


class NotMonitoredError(KbsyncError):
    """Nobody can act on that execution now: no replica holds it, and no credentials were
    given (nor does the server have its own) to take it over."""


class AwsRequestError(KbsyncError):
    """AWS refused or failed a request made for an operator; the message is AWS's own code and
    words, with any secret removed."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        # AWS's error code (`AccessDeniedException`), for the edges that map it to their own.
        self.code = code


class ConnectionNotFoundError(KbsyncError, LookupError):
    """No connection has that id (or none the caller may see)."""


class ConnectionExistsError(KbsyncError):
    """Another connection has that id."""


class ConnectionInUseError(KbsyncError):
    """A sync started from the connection still runs: deleting it would leave the run without
    credentials for a replica that must take it over."""

    def __init__(self, connection_id: str, run_ids: list[str]):
        super().__init__(
            f"Connection {connection_id} has a sync running (execution {', '.join(run_ids)}): "
            "stop it or wait for it to end, then delete the connection."
        )
        self.run_ids = run_ids


class ConnectionSchedulesError(ConnectionInUseError):
    """Schedules sync through the connection: deleting it would end them unseen."""

    def __init__(self, connection_id: str, schedule_names: list[str]):
        KbsyncError.__init__(
            self,
            f"Connection {connection_id} has schedules ({', '.join(schedule_names)}): delete "
            "them first, then the connection.",
        )
        self.run_ids: list[str] = []
        self.schedule_names = schedule_names


class ConnectionInvalidError(KbsyncError, ValueError):
    """A connection kbsync will not save; the message names the field (`field`)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class SecretRefusedError(ConnectionInvalidError):
    """A connection carried a secret: kbsync never stores one."""


class ScheduleInvalidError(KbsyncError, ValueError):
    """A schedule kbsync will not save; the message names the field (`field`: expression,
    timezone, start, end, connection, name or enabled)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ScheduleNotFoundError(KbsyncError, LookupError):
    """No schedule has that id (or none the caller may see)."""


class ConnectionTestError(AwsRequestError):
    """AWS refused a connection's test; the message names the call that failed (`call`)."""

    def __init__(self, message: str, call: str):
        super().__init__(message)
        self.call = call


class WebhookNotFoundError(KbsyncError, LookupError):
    """The connection has no webhook with that id."""


class WebhookInvalidError(KbsyncError, ValueError):
    """A webhook kbsync will not save; the message names the field (`field`), never the URL."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class SecretKeyMissingError(KbsyncError):
    """Something must be stored encrypted and the server has no key (KBSYNC_SECRET_KEY); the
    message says how to make one."""


class IngestionJobNotFoundError(KbsyncError, LookupError):
    """No ingestion job has that id."""


class IngestionJobFinishedError(KbsyncError):
    """The ingestion job already ended (completed, failed or cancelled): nothing to cancel."""

    def __init__(self, job_id: str, status: str):
        super().__init__(f"Job {job_id} is already {status}")
        self.status = status


class IngestionTargetNotFoundError(KbsyncError, LookupError):
    """`knowledgeBaseId` names neither a connection nor a knowledge base the server can see."""


class IngestionInvalidError(KbsyncError, ValueError):
    """An ingestion job kbsync will not create: the message says why; `problems` (RecordProblem
    items: path and message) name each part of the payload at fault, for seed 002's errors[]."""

    def __init__(self, message: str, problems: list | tuple = ()):
        super().__init__(message)
        self.message = message
        self.problems = list(problems)


class TableJobInvalidError(KbsyncError, ValueError):
    """A table job kbsync will not create (seed 004): `code` is the seed's error code for the
    whole answer (INVALID_REQUEST when the problems are of several kinds), `details` one line
    per problem, every one found at once, and `problems` the same as TableJobProblem items
    (field, code, message), for a form that shows each beside its field."""

    def __init__(self, code: str, message: str, problems: list | tuple = ()):
        super().__init__(message)
        self.code = code
        self.message = message
        self.problems = list(problems)

    @property
    def details(self) -> list[str]:
        return [problem.message for problem in self.problems]


class TableJobNotFoundError(KbsyncError, LookupError):
    """No table job has that id."""


class TableJobBusyError(KbsyncError):
    """A run of the table job is under way: a job never has two runs at once."""

    def __init__(self, job_id: str, run_id: str | None):
        super().__init__(
            f"A run of job {job_id} is under way (run {run_id}): wait for it to end."
        )
        self.run_id = run_id


class SourceError(KbsyncError):
    """A SQL source cannot be read (unknown, unreachable, a table or column missing); the
    message never holds the source's URL or password."""


__all__ = [
    "AwsRequestError",
    "ConnectionExistsError",
    "ConnectionInvalidError",
    "ConnectionNotFoundError",
    "ConnectionSchedulesError",
    "ConnectionTestError",
    "DatabaseError",
    "ExecutionFinishedError",
    "ExecutionNotFoundError",
    "IngestionInvalidError",
    "IngestionJobFinishedError",
    "IngestionJobNotFoundError",
    "IngestionTargetNotFoundError",
    "KbsyncError",
    "LeaseLostError",
    "NotMonitoredError",
    "ScheduleInvalidError",
    "ScheduleNotFoundError",
    "SecretKeyMissingError",
    "SecretRefusedError",
    "SourceError",
    "TableJobBusyError",
    "TableJobInvalidError",
    "TableJobNotFoundError",
    "WebhookInvalidError",
    "WebhookNotFoundError",
]
