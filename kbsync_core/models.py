"""What kbsync talks about: targets, credentials, executions and their statuses."""

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum

from kbsync_core.events import LogEvent, seed_lines
from kbsync_core.logsafety import redact_secrets

DEFAULT_DESCRIPTION = "Sincronización ejecutada desde la interfaz de chat"
LOCAL_SOURCE = "LOCAL"
AWS_SOURCE = "AWS"

# AWS ingestion-job statuses during which a job still needs watching.
AWS_RUNNING_STATUSES = frozenset({"STARTING", "IN_PROGRESS", "STOPPING"})
AWS_TERMINAL_STATUSES = frozenset({"COMPLETE", "FAILED", "STOPPED"})

# Who started a sync: the console's Sync page, the JSON API, a schedule, or AWS itself (a job
# kbsync did not start: one it was asked to monitor, or one it only reads in AWS's history).
# None for executions stored before kbsync recorded it: unknown.
TRIGGER_CONSOLE = "console"
TRIGGER_API = "api"
TRIGGER_SCHEDULE = "schedule"
TRIGGER_AWS = "aws"
# An ingestion job into an S3 data source: its records written to the bucket, then one sync.
TRIGGER_INGESTION = "ingestion"
TRIGGERS = frozenset(
    {TRIGGER_CONSOLE, TRIGGER_API, TRIGGER_SCHEDULE, TRIGGER_AWS, TRIGGER_INGESTION}
)


class ExecutionStatus(StrEnum):
    """The seed's four UI statuses plus DETENIDO, so a stopped job does not look unfinished."""

    PENDIENTE = "PENDIENTE"
    EN_EJECUCION = "EN_EJECUCION"
    COMPLETADO = "COMPLETADO"
    FALLIDO = "FALLIDO"
    DETENIDO = "DETENIDO"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset(
    {ExecutionStatus.COMPLETADO, ExecutionStatus.FALLIDO, ExecutionStatus.DETENIDO}
)

_AWS_TO_EXECUTION_STATUS = {
    "COMPLETE": ExecutionStatus.COMPLETADO,
    "FAILED": ExecutionStatus.FALLIDO,
    "STARTING": ExecutionStatus.EN_EJECUCION,
    "IN_PROGRESS": ExecutionStatus.EN_EJECUCION,
    "STOPPING": ExecutionStatus.EN_EJECUCION,
    "STOPPED": ExecutionStatus.DETENIDO,
}


def map_aws_status(aws_status: str | None) -> ExecutionStatus:
    """Seed 001's mapping, corrected: STOPPED is DETENIDO, STOPPING still runs."""
    return _AWS_TO_EXECUTION_STATUS.get(aws_status or "", ExecutionStatus.PENDIENTE)


@dataclass(frozen=True)
class SyncTarget:
    """One data source of one knowledge base in one region: what a sync runs on."""

    region: str
    knowledge_base_id: str
    data_source_id: str


@dataclass(frozen=True)
class AwsCredentials:
    """Where boto3 gets credentials: explicit keys, a named profile, or the default chain.

    Secrets are excluded from repr and equality-hash helpers so that printing, logging or
    caching one never writes a secret out. They live in memory only.
    """

    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    profile_name: str | None = None
    # A role assumed with STS from the server's own identity (boto3's default chain, or
    # `profile_name` when given): the temporary keys are botocore's, refreshed before expiry.
    role_arn: str | None = None
    external_id: str | None = None
    role_session_name: str | None = None

    @classmethod
    def from_keys(
        cls, access_key_id: str, secret_access_key: str, session_token: str | None = None
    ) -> "AwsCredentials":
        return cls(access_key_id, secret_access_key, session_token or None)

    @property
    def is_explicit(self) -> bool:
        return self.access_key_id is not None

    @property
    def cache_key(self) -> tuple[str, ...]:
        """A key that tells credentials apart without holding the secrets themselves."""
        digest = hashlib.sha256(
            f"{self.secret_access_key}\0{self.session_token}".encode()
        ).hexdigest()
        return (
            self.access_key_id or "",
            digest,
            self.profile_name or "",
            self.role_arn or "",
            self.external_id or "",
            self.role_session_name or "",
        )

    def redact(self, text: str) -> str:
        """Remove the keys from a text that came back from somewhere we do not control: the
        secret and the session token, and the access key id too (not a secret, but it names
        whose keys they are, and AWS echoes it in its errors)."""
        return redact_secrets(
            text, (self.access_key_id, self.secret_access_key, self.session_token)
        )


@dataclass
class Execution:
    """One sync as kbsync tracks it, from creation to its final status."""

    id: str
    target: SyncTarget
    description: str
    status: ExecutionStatus
    started_at: str
    finished_at: str | None = None
    job_id: str | None = None
    aws_status: str | None = None
    statistics: dict[str, int] = field(default_factory=dict)
    failure_reasons: list[str] = field(default_factory=list)
    # The log, oldest first: structured events (kbsync_core/events.py), rendered at the edge.
    events: list[LogEvent] = field(default_factory=list)
    # The process stopped while this execution ran and nobody monitors it any more; it takes
    # its final state from AWS the next time this data source's history is read.
    interrupted: bool = False
    # The job that was already running when AWS answered ConflictException.
    conflict_job_id: str | None = None
    updated_at: str | None = None
    # TRIGGERS, or None (unknown: stored before kbsync recorded who started a sync).
    trigger: str | None = None

    @property
    def logs(self) -> list[str]:
        """The log as the seeds' lines (`[5/3/2024, 10:00:00] Ejecución creada.`)."""
        return seed_lines(self.events)

    def to_dict(self) -> dict:
        """The seed 000 shape (finishedAt only once ended) plus kbsync's additions."""
        body = {
            "id": self.id,
            "source": LOCAL_SOURCE,
            "status": str(self.status),
            "logs": list(self.logs),
            "startedAt": self.started_at,
        }
        if self.finished_at:
            body["finishedAt"] = self.finished_at
        body.update(
            {
                "jobId": self.job_id,
                "awsStatus": self.aws_status,
                "statistics": dict(self.statistics),
                "failureReasons": list(self.failure_reasons),
                "description": self.description,
                "region": self.target.region,
                "knowledgeBaseId": self.target.knowledge_base_id,
                "dataSourceId": self.target.data_source_id,
                "interrupted": self.interrupted,
                "conflictJobId": self.conflict_job_id,
                "trigger": self.trigger,
            }
        )
        return body
