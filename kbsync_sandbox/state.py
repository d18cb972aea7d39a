"""The simulated knowledge base, its data sources and their ingestion jobs.

A job's status is never advanced by a thread: each job carries a schedule in simulated
seconds, and every read computes where the job is now. Methods return dicts shaped as
botocore's bedrock-agent output shapes (datetimes for timestamps).
"""

import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .clock import SimulatedClock
from .constants import SANDBOX_ACCOUNT_ID, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_REGION
from .documents import DirectIngestion
from .errors import ServiceError, conflict, not_found, validation_error
from .scan import BucketScan, ScannedDocument, scan_bucket, sync_statistics

# Simulated seconds (divided by the speed in real time). About 37 s for the first sync of
# the 20-document handbook, 17 s for a sync that finds nothing changed.
STARTING_SECONDS = 3.0
IN_PROGRESS_BASE_SECONDS = 8.0
SECONDS_PER_SCANNED_DOCUMENT = 0.3
SECONDS_PER_CHANGED_DOCUMENT = 1.0
STOPPING_SECONDS = 4.0
# IN_PROGRESS moves as Bedrock's does: the documents are scanned first (the scanned counters
# grow), then the changed ones are indexed (the indexed, deleted and failed counters grow),
# then a wind-down with every counter final. The base seconds split between the three.
SCAN_BASE_SECONDS = 4.0
INDEX_BASE_SECONDS = 2.0
SCAN_COUNTERS = frozenset({"numberOfDocumentsScanned", "numberOfMetadataDocumentsScanned"})

MAX_CONCURRENT_JOBS = 5  # Bedrock's default quota of concurrent ingestion jobs per account
RUNNING_STATUSES = ("STARTING", "IN_PROGRESS", "STOPPING")
# Fixed so that every sandbox shows the same history for the resources it starts with.
SAMPLE_RESOURCES_CREATED_AT = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
KNOWLEDGE_BASE_NAME = "kbsync-sandbox-knowledge-base"
EMBEDDING_MODEL_ARN = (
    f"arn:aws:bedrock:{SANDBOX_REGION}::foundation-model/amazon.titan-embed-text-v2:0"
)


@dataclass
class DataSource:
    data_source_id: str
    name: str
    description: str
    bucket: str | None  # None for a CUSTOM data source: its documents come only by API
    created_at: datetime
    source_type: str = "S3"  # dataSourceConfiguration.type: "S3" or "CUSTOM"


@dataclass
class IngestionJob:
    data_source_id: str
    ingestion_job_id: str
    client_token: str | None
    description: str | None
    sequence: int  # start order, for stable sorting when start times are equal
    scan: BucketScan
    final_statistics: dict[str, int]
    failure_reasons: list[str]
    in_progress_at: float
    in_progress_seconds: float
    # How long the scan, then the indexing, last within IN_PROGRESS (the rest winds down).
    scan_seconds: float
    index_seconds: float
    # (status, simulated second it begins), in order; the last one never ends.
    phases: list[tuple[str, float]] = field(default_factory=list)
    stopped_at: float | None = None

    def status(self, now: float) -> str:
        return next(status for status, begins in reversed(self.phases) if begins <= now)

    def statistics(self, now: float) -> dict[str, int]:
        status = self.status(now)
        if status in ("COMPLETE", "FAILED"):
            return dict(self.final_statistics)
        # Counters grow during their part of IN_PROGRESS and freeze where a stop caught them.
        until = now if self.stopped_at is None else min(now, self.stopped_at)
        scanned = _fraction(until - self.in_progress_at, self.scan_seconds)
        indexed = _fraction(until - self.in_progress_at - self.scan_seconds, self.index_seconds)
        return {
            name: int(value * (scanned if name in SCAN_COUNTERS else indexed))
            for name, value in self.final_statistics.items()
        }

    def finish(self, now: float) -> None:
        """Compress the rest of the schedule so the job is in its end state from `now`."""
        self.phases = [(status, min(begins, now)) for status, begins in self.phases]


def _fraction(elapsed: float, seconds: float) -> float:
    return min(max(elapsed / seconds, 0.0), 1.0) if seconds > 0 else float(elapsed >= 0)


class BedrockAgentSimulation:
    """One knowledge base in SANDBOX_REGION with S3 data sources read through `s3`."""

    def __init__(self, clock: SimulatedClock, s3):
        self._lock = threading.Lock()
        self._clock = clock
        self._s3 = s3
        self._data_sources: dict[str, DataSource] = {}
        self._jobs: list[IngestionJob] = []
        self.documents = DirectIngestion(clock, s3)

    @property
    def speed(self) -> float:
        return self._clock.speed

    @speed.setter
    def speed(self, speed: float) -> None:
        with self._lock:
            self._clock.speed = speed

    def add_data_source(
        self,
        data_source_id: str,
        name: str,
        description: str,
        bucket: str | None,
        created_at: datetime,
        source_type: str = "S3",
    ) -> None:
        if (bucket is None) != (source_type == "CUSTOM"):
            raise ValueError("An S3 data source reads a bucket; a CUSTOM one has none")
        with self._lock:
            if data_source_id in self._data_sources:
                raise ValueError(f"Data source {data_source_id} already exists")
            self._data_sources[data_source_id] = DataSource(
                data_source_id, name, description, bucket, created_at, source_type
            )

    # Knowledge bases and data sources

    def knowledge_base_summaries(self, region: str) -> list[dict]:
        if region != SANDBOX_REGION:
            return []
        base = self._knowledge_base()
        summary_members = ("knowledgeBaseId", "name", "description", "status", "updatedAt")
        return [{member: base[member] for member in summary_members}]

    def knowledge_base(self, region: str, knowledge_base_id: str) -> dict:
        self._check_knowledge_base(region, knowledge_base_id)
        return self._knowledge_base()

    def data_source_summaries(self, region: str, knowledge_base_id: str) -> list[dict]:
        self._check_knowledge_base(region, knowledge_base_id)
        with self._lock:
            sources = sorted(self._data_sources.values(), key=lambda source: source.data_source_id)
        return [
            {
                "knowledgeBaseId": SANDBOX_KNOWLEDGE_BASE_ID,
                "dataSourceId": source.data_source_id,
                "name": source.name,
                "status": "AVAILABLE",
                "description": source.description,
                "updatedAt": source.created_at,
            }
            for source in sources
        ]

    def data_source(self, region: str, knowledge_base_id: str, data_source_id: str) -> dict:
        source = self._find_data_source(region, knowledge_base_id, data_source_id)
        # A CUSTOM data source has no configuration beyond its type (botocore's model has no
        # member for one).
        configuration: dict = {"type": source.source_type}
        if source.bucket is not None:
            configuration["s3Configuration"] = {
                "bucketArn": f"arn:aws:s3:::{source.bucket}",
                "bucketOwnerAccountId": SANDBOX_ACCOUNT_ID,
            }
        return {
            "knowledgeBaseId": SANDBOX_KNOWLEDGE_BASE_ID,
            "dataSourceId": source.data_source_id,
            "name": source.name,
            "status": "AVAILABLE",
            "description": source.description,
            "dataSourceConfiguration": configuration,
            "vectorIngestionConfiguration": {
                "chunkingConfiguration": {
                    "chunkingStrategy": "FIXED_SIZE",
                    "fixedSizeChunkingConfiguration": {"maxTokens": 300, "overlapPercentage": 20},
                }
            },
            "dataDeletionPolicy": "DELETE",
            "createdAt": source.created_at,
            "updatedAt": source.created_at,
        }

    # Ingestion jobs

    def start_ingestion_job(
        self,
        region: str,
        knowledge_base_id: str,
        data_source_id: str,
        client_token: str | None,
        description: str | None,
    ) -> dict:
        source = self._find_data_source(region, knowledge_base_id, data_source_id)
        if source.bucket is None:
            # Nothing to scan: a CUSTOM data source's documents arrive by direct ingestion.
            raise validation_error(
                f"Data source {data_source_id} is a CUSTOM data source: it has nothing to sync. "
                "Add its documents with IngestKnowledgeBaseDocuments."
            )
        with self._lock:
            now = self._clock.now()
            jobs = [job for job in self._jobs if job.data_source_id == data_source_id]
            # A retried start (same clientToken) gets the job the first attempt started.
            for job in jobs:
                if client_token is not None and job.client_token == client_token:
                    return self._describe(job, now)
            for job in jobs:
                if job.status(now) in RUNNING_STATUSES:
                    raise conflict(
                        f"Data source {data_source_id} already has an ingestion job in progress "
                        f"({job.ingestion_job_id}). Wait for it to finish or stop it, then try "
                        "again."
                    )
            running = sum(job.status(now) in RUNNING_STATUSES for job in self._jobs)
            if running >= MAX_CONCURRENT_JOBS:
                raise ServiceError(
                    "ServiceQuotaExceededException",
                    f"This account already runs {running} ingestion jobs, the maximum number of "
                    "concurrent ingestion jobs. Wait for one to finish, then try again.",
                )
            job = self._new_job(source, jobs, client_token, description, now)
            self._jobs.append(job)
            return self._describe(job, now)

    def ingestion_job(
        self, region: str, knowledge_base_id: str, data_source_id: str, ingestion_job_id: str
    ) -> dict:
        self._find_data_source(region, knowledge_base_id, data_source_id)
        with self._lock:
            job = self._find_job(data_source_id, ingestion_job_id)
            return self._describe(job, self._clock.now())

    def ingestion_job_summaries(
        self, region: str, knowledge_base_id: str, data_source_id: str
    ) -> list[dict]:
        """Every job of the data source, oldest first."""
        self._find_data_source(region, knowledge_base_id, data_source_id)
        with self._lock:
            now = self._clock.now()
            described = [
                self._describe(job, now)
                for job in self._jobs
                if job.data_source_id == data_source_id
            ]
        for summary in described:
            summary.pop("failureReasons", None)  # not a member of IngestionJobSummary
        return described

    def stop_ingestion_job(
        self, region: str, knowledge_base_id: str, data_source_id: str, ingestion_job_id: str
    ) -> dict:
        self._find_data_source(region, knowledge_base_id, data_source_id)
        with self._lock:
            job = self._find_job(data_source_id, ingestion_job_id)
            now = self._clock.now()
            status = job.status(now)
            if status not in ("STARTING", "IN_PROGRESS"):
                raise conflict(
                    f"Ingestion job {ingestion_job_id} is {status}; only a STARTING or "
                    "IN_PROGRESS ingestion job can be stopped."
                )
            job.phases = [phase for phase in job.phases if phase[1] <= now] + [
                ("STOPPING", now),
                ("STOPPED", now + STOPPING_SECONDS),
            ]
            job.stopped_at = now
            return self._describe(job, now)

    def finish_running_jobs(self) -> None:
        """Bring every ingestion job, and every ingested or deleted document, to its end."""
        with self._lock:
            now = self._clock.now()
            for job in self._jobs:
                job.finish(now)
        self.documents.finish()

    # Documents ingested directly (the details are documents.py's)

    def ingest_documents(
        self,
        region: str,
        knowledge_base_id: str,
        data_source_id: str,
        documents: list[dict],
        client_token: str | None,
    ) -> list[dict]:
        source = self._find_data_source(region, knowledge_base_id, data_source_id)
        return self.documents.ingest(data_source_id, source.source_type, documents, client_token)

    def document_details(
        self, region: str, knowledge_base_id: str, data_source_id: str, identifiers: list[dict]
    ) -> list[dict]:
        source = self._find_data_source(region, knowledge_base_id, data_source_id)
        return self.documents.details(data_source_id, source.source_type, identifiers)

    def delete_documents(
        self,
        region: str,
        knowledge_base_id: str,
        data_source_id: str,
        identifiers: list[dict],
        client_token: str | None,
    ) -> list[dict]:
        source = self._find_data_source(region, knowledge_base_id, data_source_id)
        return self.documents.delete(data_source_id, source.source_type, identifiers, client_token)

    def listed_documents(
        self, region: str, knowledge_base_id: str, data_source_id: str
    ) -> list[dict]:
        self._find_data_source(region, knowledge_base_id, data_source_id)
        return self.documents.listed(data_source_id)

    def stored_documents(self, data_source_id: str) -> list[dict]:
        """What was ingested into the data source (content, attributes, status), for tests."""
        with self._lock:
            known = data_source_id in self._data_sources
        if not known:
            raise ValueError(f"No data source {data_source_id} in the sandbox")
        return self.documents.stored(data_source_id)

    # Internals (callers hold no lock unless noted)

    def _knowledge_base(self) -> dict:
        return {
            "knowledgeBaseId": SANDBOX_KNOWLEDGE_BASE_ID,
            "name": KNOWLEDGE_BASE_NAME,
            "knowledgeBaseArn": (
                f"arn:aws:bedrock:{SANDBOX_REGION}:{SANDBOX_ACCOUNT_ID}:knowledge-base/"
                f"{SANDBOX_KNOWLEDGE_BASE_ID}"
            ),
            "description": "Simulated by kbsync's sandbox: no AWS account involved.",
            "roleArn": (
                f"arn:aws:iam::{SANDBOX_ACCOUNT_ID}:role/service-role/"
                "AmazonBedrockExecutionRoleForKnowledgeBase_kbsync"
            ),
            "knowledgeBaseConfiguration": {
                "type": "VECTOR",
                "vectorKnowledgeBaseConfiguration": {"embeddingModelArn": EMBEDDING_MODEL_ARN},
            },
            "storageConfiguration": {
                "type": "OPENSEARCH_SERVERLESS",
                "opensearchServerlessConfiguration": {
                    "collectionArn": (
                        f"arn:aws:aoss:{SANDBOX_REGION}:{SANDBOX_ACCOUNT_ID}:collection/"
                        "kbsync-sandbox"
                    ),
                    "vectorIndexName": "bedrock-knowledge-base-default-index",
                    "fieldMapping": {
                        "vectorField": "bedrock-knowledge-base-default-vector",
                        "textField": "AMAZON_BEDROCK_TEXT_CHUNK",
                        "metadataField": "AMAZON_BEDROCK_METADATA",
                    },
                },
            },
            "status": "ACTIVE",
            "createdAt": SAMPLE_RESOURCES_CREATED_AT,
            "updatedAt": SAMPLE_RESOURCES_CREATED_AT,
        }

    def _check_knowledge_base(self, region: str, knowledge_base_id: str) -> None:
        if region != SANDBOX_REGION or knowledge_base_id != SANDBOX_KNOWLEDGE_BASE_ID:
            raise not_found(f"Knowledge base {knowledge_base_id} was not found in {region}.")

    def _find_data_source(
        self, region: str, knowledge_base_id: str, data_source_id: str
    ) -> DataSource:
        self._check_knowledge_base(region, knowledge_base_id)
        with self._lock:
            source = self._data_sources.get(data_source_id)
        if source is None:
            raise not_found(
                f"Data source {data_source_id} was not found in knowledge base {knowledge_base_id}."
            )
        return source

    def _find_job(self, data_source_id: str, ingestion_job_id: str) -> IngestionJob:
        """Caller holds the lock."""
        for job in self._jobs:
            if job.data_source_id == data_source_id and job.ingestion_job_id == ingestion_job_id:
                return job
        raise not_found(
            f"Ingestion job {ingestion_job_id} was not found for data source {data_source_id}."
        )

    def _new_job(
        self,
        source: DataSource,
        earlier_jobs: list[IngestionJob],
        client_token: str | None,
        description: str | None,
        now: float,
    ) -> IngestionJob:
        """Caller holds the lock. Reads the bucket now, as Bedrock does when a sync starts."""
        scan = scan_bucket(self._s3, source.bucket)
        successful = [job for job in earlier_jobs if job.status(now) == "COMPLETE"]
        last_synced: dict[str, ScannedDocument] = (
            successful[-1].scan.documents if successful else {}
        )
        statistics = sync_statistics(scan, last_synced)
        changed = sum(
            statistics[name]
            for name in (
                "numberOfNewDocumentsIndexed",
                "numberOfModifiedDocumentsIndexed",
                "numberOfMetadataDocumentsModified",
                "numberOfDocumentsDeleted",
                "numberOfDocumentsFailed",
            )
        )
        scan_seconds = (
            SCAN_BASE_SECONDS
            + SECONDS_PER_SCANNED_DOCUMENT * statistics["numberOfDocumentsScanned"]
        )
        index_seconds = INDEX_BASE_SECONDS + SECONDS_PER_CHANGED_DOCUMENT * changed
        in_progress_seconds = (
            IN_PROGRESS_BASE_SECONDS
            + SECONDS_PER_SCANNED_DOCUMENT * statistics["numberOfDocumentsScanned"]
            + SECONDS_PER_CHANGED_DOCUMENT * changed
        )
        in_progress_at = now + STARTING_SECONDS
        # Any document that cannot be ingested fails the whole sync, so problems are visible.
        outcome = "FAILED" if scan.failures else "COMPLETE"
        return IngestionJob(
            data_source_id=source.data_source_id,
            ingestion_job_id=uuid.uuid4().hex[:10].upper(),
            client_token=client_token,
            description=description,
            sequence=len(self._jobs),
            scan=scan,
            final_statistics=statistics,
            failure_reasons=sorted(scan.failures.values()),
            in_progress_at=in_progress_at,
            in_progress_seconds=in_progress_seconds,
            scan_seconds=scan_seconds,
            index_seconds=index_seconds,
            phases=[
                ("STARTING", now),
                ("IN_PROGRESS", in_progress_at),
                (outcome, in_progress_at + in_progress_seconds),
            ],
        )

    def _describe(self, job: IngestionJob, now: float) -> dict:
        """An IngestionJob shape as of `now`. Caller holds the lock."""
        status = job.status(now)
        status_began = next(begins for phase, begins in job.phases if phase == status)
        described = {
            "knowledgeBaseId": SANDBOX_KNOWLEDGE_BASE_ID,
            "dataSourceId": job.data_source_id,
            "ingestionJobId": job.ingestion_job_id,
            "status": status,
            "statistics": job.statistics(now),
            "startedAt": self._clock.wall_time(job.phases[0][1]),
            # Statistics change all along IN_PROGRESS; otherwise the job last changed when it
            # entered its status.
            "updatedAt": self._clock.wall_time(now if status == "IN_PROGRESS" else status_began),
        }
        if job.description is not None:
            described["description"] = job.description
        if status == "FAILED":
            described["failureReasons"] = list(job.failure_reasons)
        return described
