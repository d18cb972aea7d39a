"""The API tests' servers, started as an operator starts kbsync, and the seeds' request bodies.

Servers live as long as this package's tests (a start costs a second or two, and none is left
to compete for the CPU with the tests that follow): `console` runs on the embedded sandbox;
`aws_console` runs with KBSYNC_BACKEND=aws against `sandbox_server`, the sandbox's bedrock-agent
over HTTP in a process of its own, which outlives a killed console.
"""

import boto3
import pytest
from botocore.config import Config

from kbsync_sandbox import SANDBOX_DATA_SOURCE_ID, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_REGION
from tests.api.client import JsonClient
from tests.support.servers import start_console, start_sandbox_server

# Seed 000's example credentials: the sandbox accepts any keys.
SEED_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SEED_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
API_TOKEN = "kbsync-api-test-token-7f3a9c0e51d24b6b"
# Slow enough that a job started by a test runs until the test says otherwise (a first sync
# of the handbook takes 37 simulated seconds).
SANDBOX_SERVER_SPEED = 1.0
AWS_CONSOLE_LEASE_SECONDS = 2


def sync_body(**overrides) -> dict:
    """Seed 000's request example, on the sandbox's knowledge base and data source."""
    body = {
        "region": SANDBOX_REGION,
        "knowledgeBaseId": SANDBOX_KNOWLEDGE_BASE_ID,
        "dataSourceId": SANDBOX_DATA_SOURCE_ID,
        "accessKeyId": SEED_ACCESS_KEY_ID,
        "secretAccessKey": SEED_SECRET_ACCESS_KEY,
        "description": "Sync documents from workshop",
    }
    body.update(overrides)
    return body


def history_body(**overrides) -> dict:
    """Seed 001's request example, on the sandbox's knowledge base and data source."""
    body = sync_body(maxResults=40)
    del body["description"]
    body.update(overrides)
    return body


def without(body: dict, *names: str) -> dict:
    return {name: value for name, value in body.items() if name not in names}


@pytest.fixture(scope="package")
def console(tmp_path_factory):
    with start_console(tmp_path_factory.mktemp("console")) as running:
        yield running


@pytest.fixture
def api(console) -> JsonClient:
    return JsonClient(console.url)


@pytest.fixture(scope="package")
def sandbox_server(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("sandbox-server")
    with start_sandbox_server(log_dir, speed=SANDBOX_SERVER_SPEED) as running:
        yield running


@pytest.fixture(scope="package")
def aws_console(tmp_path_factory, sandbox_server):
    environment = {
        "KBSYNC_BACKEND": "aws",
        "AWS_ENDPOINT_URL_BEDROCK_AGENT": sandbox_server.url,
        "AWS_EC2_METADATA_DISABLED": "true",
        # A killed console's runs are free for the next one within a couple of seconds.
        "KBSYNC_LEASE_SECONDS": str(AWS_CONSOLE_LEASE_SECONDS),
        # One attempt per AWS call: a fault the tests inject reaches kbsync's own retries, not
        # botocore's.
        "KBSYNC_AWS_MAX_ATTEMPTS": "1",
    }
    with start_console(
        tmp_path_factory.mktemp("aws-console"), environment, name="aws-console"
    ) as running:
        yield running


@pytest.fixture
def aws_api(aws_console) -> JsonClient:
    return JsonClient(aws_console.url)


class SandboxControl:
    """The sandbox server's simulated time, its faults and its log of calls, and a boto3
    client of its own to read jobs."""

    def __init__(self, url: str):
        self._http = JsonClient(url)
        self.agent = boto3.client(
            "bedrock-agent",
            region_name=SANDBOX_REGION,
            endpoint_url=url,
            aws_access_key_id="AKIAKBSYNCSANDBOXCTL",
            aws_secret_access_key="sandbox-control-secret-0123456789abcdef",
            config=Config(retries={"total_max_attempts": 1}),
        )

    def finish_running_jobs(self) -> None:
        assert self._http.post("/_kbsync_sandbox/finish-running-jobs").status == 200

    def inject_fault(self, **fields) -> dict:
        """Add a fault with POST /_kbsync_sandbox/faults; `fields` are the body's (camelCase:
        operation, error, status, probability, latencySeconds, count, lostAnswer,
        closeConnection, seed). Returns the fault as the server answered it."""
        reply = self._http.post("/_kbsync_sandbox/faults", fields)
        assert reply.status == 201, (reply.status, reply.json)
        return reply.json

    def clear_faults(self) -> None:
        assert self._http.request("DELETE", "/_kbsync_sandbox/faults").status == 200

    def faults(self) -> list[dict]:
        reply = self._http.get("/_kbsync_sandbox/faults")
        assert reply.status == 200, (reply.status, reply.json)
        return reply.json["faults"]

    def calls(self, operation: str | None = None) -> list[dict]:
        """The bedrock-agent requests the server received, oldest first (the newest 10,000):
        dicts with operation, parameters, userAgent, accessKeyId and at (unix time)."""
        query = {"operation": operation} if operation is not None else {}
        reply = self._http.get("/_kbsync_sandbox/calls", **query)
        assert reply.status == 200, (reply.status, reply.json)
        return reply.json["calls"]

    def clear_calls(self) -> None:
        assert self._http.request("DELETE", "/_kbsync_sandbox/calls").status == 200

    def job(self, job_id: str, data_source_id: str = SANDBOX_DATA_SOURCE_ID) -> dict:
        return self.agent.get_ingestion_job(
            knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID,
            dataSourceId=data_source_id,
            ingestionJobId=job_id,
        )["ingestionJob"]


@pytest.fixture
def sandbox_control(sandbox_server) -> SandboxControl:
    control = SandboxControl(sandbox_server.url)
    yield control
    # A fault left in force would hit the next test's requests (and the next line's).
    control.clear_faults()
    # Whatever a test left running would make the next one's StartIngestionJob a conflict.
    control.finish_running_jobs()
