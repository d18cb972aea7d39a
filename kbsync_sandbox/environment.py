"""Sandbox: start and stop the simulated AWS that boto3 clients in this process talk to.

S3 is moto's (`mock_aws`); bedrock-agent is answered by BedrockAgentHook. Like moto, the
sandbox only reaches clients created while it runs: botocore copies its list of built-in
handlers into each session when the session is created, and mock_aws makes boto3's default
session a new one. A session or client created before start() talks to real AWS.
"""

import re
import threading
from datetime import UTC, datetime
from functools import cache
from typing import ClassVar

import boto3
from botocore.handlers import BUILTIN_HANDLERS, REGISTER_FIRST
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from .botocore_hook import EVENT_NAME, BedrockAgentHook, CallRecord
from .clock import SimulatedClock, check_speed
from .constants import (
    SANDBOX_CUSTOM_DATA_SOURCE_ID,
    SANDBOX_DATA_SOURCE_ID,
    SANDBOX_FAILING_DATA_SOURCE_ID,
    SANDBOX_REGION,
)
from .content import (
    HANDBOOK_BUCKET,
    SUPPORT_ARCHIVE_BUCKET,
    handbook_documents,
    support_archive_documents,
)
from .faults import Fault, FaultInjector
from .state import SAMPLE_RESOURCES_CREATED_AT, BedrockAgentSimulation

# moto has a partial bedrock-agent of its own. botocore calls every before-send handler, even
# after one answered, so moto must pass bedrock-agent through or it would also run (and
# fail on) every request the sandbox answers. The rest is moto's default configuration.
MOTO_CONFIG = {
    "core": {
        "mock_credentials": True,
        "passthrough": {"urls": [], "services": ["bedrockagent"]},
        "reset_boto3_session": True,
        "service_whitelist": None,
    }
}
# The sandbox reads buckets with its own client, with a fixed endpoint and keys so that
# neither AWS_ENDPOINT_URL nor the user's credentials can divert it.
S3_ENDPOINT_URL = f"https://s3.{SANDBOX_REGION}.amazonaws.com"
DATA_SOURCE_ID_PATTERN = "[0-9a-zA-Z]{10}"


@cache
def _sandbox_s3_client():
    """The sandbox's own S3 client. Made once (a new session costs ~0.1 s of model loading):
    moto's handler is in every session created after moto was imported, and it only answers
    while a mock is running."""
    return boto3.session.Session(
        aws_access_key_id="kbsync-sandbox",
        aws_secret_access_key="kbsync-sandbox",  # noqa: S106 - moto accepts any key
        region_name=SANDBOX_REGION,
    ).client("s3", endpoint_url=S3_ENDPOINT_URL)


def sandbox(speed: float = 1.0) -> "Sandbox":
    """A Sandbox to use as a context manager: `with sandbox(speed=50) as sb: ...`."""
    return Sandbox(speed=speed)


class Sandbox:
    _active: ClassVar["Sandbox | None"] = None
    _activation_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, speed: float = 1.0):
        self._speed = check_speed(speed)
        self._faults = FaultInjector()
        self._mock = None
        self._simulation: BedrockAgentSimulation | None = None
        self._hook: BedrockAgentHook | None = None
        self._handler_spec: tuple | None = None

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> "Sandbox":
        """Start from the sample state: fresh moto, fresh jobs, sample buckets, no faults."""
        with Sandbox._activation_lock:
            if Sandbox._active is not None:
                raise RuntimeError(
                    "A kbsync sandbox is already running in this process; stop it first."
                )
            Sandbox._active = self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._mock = mock_aws(config=MOTO_CONFIG)
        self._mock.start()
        self._simulation = BedrockAgentSimulation(SimulatedClock(self._speed), _sandbox_s3_client())
        self._faults.clear()
        self._add_data_source(
            SANDBOX_DATA_SOURCE_ID,
            "ops-handbook",
            "Operations handbook: runbooks, on-call and security policies.",
            HANDBOOK_BUCKET,
            handbook_documents(),
            SAMPLE_RESOURCES_CREATED_AT,
        )
        self._add_data_source(
            SANDBOX_FAILING_DATA_SOURCE_ID,
            "support-archive",
            "Support archive with files that cannot be ingested: its syncs fail.",
            SUPPORT_ARCHIVE_BUCKET,
            support_archive_documents(),
            SAMPLE_RESOURCES_CREATED_AT,
        )
        self._simulation.add_data_source(
            SANDBOX_CUSTOM_DATA_SOURCE_ID,
            "custom-documents",
            "Documents sent straight to the knowledge base (IngestKnowledgeBaseDocuments).",
            None,
            SAMPLE_RESOURCES_CREATED_AT,
            source_type="CUSTOM",
        )
        self._hook = BedrockAgentHook(self._simulation, self._faults)
        # REGISTER_FIRST and a more specific event than moto's "before-send": either alone
        # puts this handler ahead of moto's in every session created from now on.
        self._handler_spec = (EVENT_NAME, self._hook, REGISTER_FIRST)
        BUILTIN_HANDLERS.insert(0, self._handler_spec)

    def stop(self) -> None:
        """Stop and drop all state; calling it again does nothing."""
        with Sandbox._activation_lock:
            if Sandbox._active is not self:
                return
            Sandbox._active = None
            if self._handler_spec in BUILTIN_HANDLERS:
                BUILTIN_HANDLERS.remove(self._handler_spec)
            if self._hook is not None:
                self._hook.stopped = True
            if self._mock is not None:
                self._mock.stop()
            # The hook stays, so `calls` can still be read after the sandbox stopped.
            self._mock = self._simulation = self._handler_spec = None

    @property
    def speed(self) -> float:
        """Simulated seconds per real second. Changing it mid-job keeps the progress made."""
        return self._speed

    @speed.setter
    def speed(self, speed: float) -> None:
        self._speed = check_speed(speed)
        if self._simulation is not None:
            self._simulation.speed = self._speed

    @property
    def calls(self) -> list[tuple[str, dict]]:
        """(operation, parameters) of every bedrock-agent request received, oldest first,
        including those answered with an error or an injected fault (`call_log` also says
        who sent each and when)."""
        return self._hook.calls if self._hook is not None else []

    @property
    def call_log(self) -> list[CallRecord]:
        """Every bedrock-agent request received, oldest first (the newest 10,000), with who
        sent it: its User-Agent and the access key id it was signed with (never a secret)."""
        return self._hook.call_log if self._hook is not None else []

    @property
    def call_counts(self) -> dict[str, int]:
        """How many bedrock-agent requests of each operation were received (all of them, not
        only the newest 10,000 that `call_log` keeps), errors and faults included."""
        return self._hook.call_counts if self._hook is not None else {}

    def clear_calls(self) -> None:
        """Empty `calls`, `call_log` and `call_counts`."""
        if self._hook is not None:
            self._hook.clear_calls()

    def inject_fault(
        self,
        operation: str | None = None,
        error: str | None = None,
        status: int | None = None,
        latency_seconds: float = 0.0,
        count: int | None = None,
        *,
        probability: float = 1.0,
        lost_answer: bool = False,
        close_connection: bool = False,
        seed: int | None = None,
    ) -> Fault:
        """Make the next `count` bedrock-agent requests for `operation` (None: any) go wrong;
        `count=None` keeps the fault until clear_faults(). Raises ValueError for a fault that
        cannot apply. Each matching request is hit with `probability` (a random.Random seeded
        with `seed`); only the requests hit count.

        - `error` and/or `status`: answered instead of doing the work (a modeled error's status
          comes from botocore's model, and a status's error too; an error the model lacks
          needs its status, e.g. error="ServiceUnavailableException", status=503);
        - `latency_seconds`: real seconds (not divided by speed) waited before answering;
        - `lost_answer`: the work is done, then the answer is lost: the client gets
          `error`/`status` if given, else a botocore ConnectionClosedError (over HTTP the
          connection is closed without an answer), after `latency_seconds`;
        - `close_connection`: ConnectionClosedError without the work being done.
        """
        return self._faults.inject(
            operation,
            error,
            status,
            latency_seconds,
            count,
            probability=probability,
            lost_answer=lost_answer,
            close_connection=close_connection,
            seed=seed,
        )

    @property
    def faults(self) -> list[Fault]:
        """The faults still in force, oldest first (copies)."""
        return self._faults.faults

    def clear_faults(self) -> None:
        self._faults.clear()

    def finish_running_jobs(self) -> None:
        """Bring every running ingestion job, and every document being ingested or deleted,
        to its end state now."""
        self._running_simulation().finish_running_jobs()

    def documents(self, data_source_id: str = SANDBOX_CUSTOM_DATA_SOURCE_ID) -> list[dict]:
        """What was ingested into a data source with IngestKnowledgeBaseDocuments, in the
        order the documents were first ingested, deleted ones included (status NOT_FOUND).
        Each is a dict: dataSourceType, id (custom id or S3 URI), status, statusReason,
        content (text, or None), byteContent (base64 of inline bytes, or None), mimeType,
        attributes (key -> value) and ingestions (how many times it was ingested).
        Raises ValueError for an unknown data source."""
        return self._running_simulation().stored_documents(data_source_id)

    def add_data_source(self, data_source_id: str, documents: dict[str, bytes]) -> str:
        """Add an S3 data source to SANDBOXKB1 with a new bucket holding `documents`
        (S3 key -> content); returns the bucket name."""
        if not re.fullmatch(DATA_SOURCE_ID_PATTERN, data_source_id):
            raise ValueError(f"A data source id is 10 letters or digits, not {data_source_id!r}")
        bucket = f"kbsync-sandbox-{data_source_id.lower()}"
        self._add_data_source(
            data_source_id,
            f"data-source-{data_source_id.lower()}",
            "Added by Sandbox.add_data_source.",
            bucket,
            documents,
            datetime.now(UTC),
        )
        return bucket

    def _add_data_source(
        self,
        data_source_id: str,
        name: str,
        description: str,
        bucket: str,
        documents: dict[str, bytes],
        created_at: datetime,
    ) -> None:
        # Registered first: it refuses a duplicate id before any bucket is touched.
        self._running_simulation().add_data_source(
            data_source_id, name, description, bucket, created_at
        )
        # Straight into moto's S3 backend: 30x faster than one S3 request per object, and
        # every sandbox start (so every test) pays for it. Reads go through S3 requests.
        s3_backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        s3_backend.create_bucket(bucket, SANDBOX_REGION)
        for key, body in documents.items():
            s3_backend.put_object(bucket, key, body)

    def _running_simulation(self) -> BedrockAgentSimulation:
        if self._simulation is None:
            raise RuntimeError("The kbsync sandbox is not running; call start() first.")
        return self._simulation
