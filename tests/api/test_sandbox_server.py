"""kbsync_sandbox.server: the sandbox's bedrock-agent over HTTP, for real boto3 clients.

(It lives with the API tests because the killed-process test is what it is for.)
"""

import signal
import time

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from kbsync_sandbox import (
    DENIED_ACCESS_KEY_PREFIX,
    SANDBOX_DATA_SOURCE_ID,
    SANDBOX_FAILING_DATA_SOURCE_ID,
    SANDBOX_KNOWLEDGE_BASE_ID,
    SANDBOX_REGION,
)
from kbsync_sandbox.server import operation_for
from tests.api.client import JsonClient
from tests.support.servers import start_sandbox_server

IDS = {"knowledgeBaseId": SANDBOX_KNOWLEDGE_BASE_ID, "dataSourceId": SANDBOX_FAILING_DATA_SOURCE_ID}


def agent_for(url: str, access_key_id: str = "AKIAKBSYNCHTTPTEST1"):
    return boto3.client(
        "bedrock-agent",
        region_name=SANDBOX_REGION,
        endpoint_url=url,
        aws_access_key_id=access_key_id,
        aws_secret_access_key="http-test-secret-0123456789abcdef",
        aws_session_token="http-test-session-token",
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def agent(sandbox_server, sandbox_control):
    return agent_for(sandbox_server.url)


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("POST", "/knowledgebases/", "ListKnowledgeBases"),
        ("GET", "/knowledgebases/KB12345678", "GetKnowledgeBase"),
        ("POST", "/knowledgebases/KB12345678/datasources/", "ListDataSources"),
        ("GET", "/knowledgebases/KB12345678/datasources/DS12345678", "GetDataSource"),
        ("PUT", "/knowledgebases/KB/datasources/DS/ingestionjobs/", "StartIngestionJob"),
        ("POST", "/knowledgebases/KB/datasources/DS/ingestionjobs/", "ListIngestionJobs"),
        ("GET", "/knowledgebases/KB/datasources/DS/ingestionjobs/JOB", "GetIngestionJob"),
        ("POST", "/knowledgebases/KB/datasources/DS/ingestionjobs/JOB/stop", "StopIngestionJob"),
        ("GET", "/knowledgebases/KB/datasources/DS/ingestionjobs/JOB/more", None),
        ("PATCH", "/knowledgebases/", None),
        ("GET", "/", None),
    ],
)
def test_requests_are_routed_by_method_and_the_models_request_uri(method, path, operation):
    assert operation_for(method, path) == operation


def test_a_boto3_client_runs_a_job_to_its_end(agent, sandbox_control):
    assert agent.list_knowledge_bases()["knowledgeBaseSummaries"][0]["knowledgeBaseId"] == (
        SANDBOX_KNOWLEDGE_BASE_ID
    )
    sources = agent.list_data_sources(knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID)
    assert {source["dataSourceId"] for source in sources["dataSourceSummaries"]} == {
        SANDBOX_DATA_SOURCE_ID, SANDBOX_FAILING_DATA_SOURCE_ID,
    }

    job = agent.start_ingestion_job(**IDS, clientToken="kbsync-http-test-0000000000000000001")
    assert job["ingestionJob"]["status"] == "STARTING"
    job_id = job["ingestionJob"]["ingestionJobId"]
    sandbox_control.finish_running_jobs()

    ended = agent.get_ingestion_job(**IDS, ingestionJobId=job_id)["ingestionJob"]
    assert ended["status"] == "FAILED" and ended["failureReasons"]
    listed = agent.get_paginator("list_ingestion_jobs").paginate(
        **IDS, PaginationConfig={"PageSize": 1}
    )
    assert job_id in [s["ingestionJobId"] for page in listed for s in page["ingestionJobSummaries"]]


def test_a_stop_reaches_the_job(agent, sandbox_control):
    job_id = agent.start_ingestion_job(**IDS)["ingestionJob"]["ingestionJobId"]
    stopping = agent.stop_ingestion_job(**IDS, ingestionJobId=job_id)["ingestionJob"]
    assert stopping["status"] == "STOPPING"
    sandbox_control.finish_running_jobs()
    assert agent.get_ingestion_job(**IDS, ingestionJobId=job_id)["ingestionJob"]["status"] == (
        "STOPPED"
    )


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda a: a.get_knowledge_base(knowledgeBaseId="MISSINGKB1"), "ResourceNotFoundException"),
        (lambda a: a.get_ingestion_job(**IDS, ingestionJobId="NOSUCHJOB1"),
         "ResourceNotFoundException"),
        (lambda a: a.get_knowledge_base(knowledgeBaseId="bad id!"), "ValidationException"),
        (lambda a: a.list_agents(), "ValidationException"),
    ],
)
def test_aws_errors_arrive_as_botocore_client_errors(agent, call, code):
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(agent)
    assert raised.value.response["Error"]["Code"] == code


def test_denied_keys_are_refused_as_aws_would(sandbox_server):
    denied = agent_for(sandbox_server.url, DENIED_ACCESS_KEY_PREFIX + "HTTPTEST1")
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        denied.list_knowledge_bases()
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_path_no_operation_answers_is_a_404(sandbox_server):
    reply = JsonClient(sandbox_server.url).request("GET", "/no/such/thing")
    assert reply.status == 404
    assert reply.headers["x-amzn-errortype"] == "UnknownOperationException"


def test_the_speed_control_changes_and_refuses_nonsense(sandbox_server):
    control = JsonClient(sandbox_server.url)
    assert control.request("PUT", "/_kbsync_sandbox/speed", {"speed": 2}).json == {"speed": 2.0}
    assert control.request("PUT", "/_kbsync_sandbox/speed", {"speed": 0}).status == 400
    assert control.request("PUT", "/_kbsync_sandbox/speed", {"speed": 1}).status == 200


def wait_until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.02)


def test_sigterm_ends_the_server_cleanly(tmp_path):
    server = start_sandbox_server(tmp_path, name="sandbox-sigterm")
    server.process.send_signal(signal.SIGTERM)  # at once: it may not have announced itself yet
    assert server.process.wait(10) == 0
    again = start_sandbox_server(tmp_path, name="sandbox-sigterm-later")
    wait_until(lambda: f"listening on {again.url}" in again.output())
    again.process.send_signal(signal.SIGTERM)
    assert again.process.wait(10) == 0
