"""kbsync_sandbox.server: the sandbox's bedrock-agent over HTTP, for real boto3 clients.

(It lives with the API tests because the killed-process test is what it is for.)
"""

import signal
import time
import uuid

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from kbsync_sandbox import (
    DENIED_ACCESS_KEY_PREFIX,
    SANDBOX_CUSTOM_DATA_SOURCE_ID,
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
        SANDBOX_DATA_SOURCE_ID, SANDBOX_FAILING_DATA_SOURCE_ID, SANDBOX_CUSTOM_DATA_SOURCE_ID,
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


# -- faults and the log of calls, over HTTP --------------------------------------------------


def client_token() -> str:
    return f"kbsync-http-fault-{uuid.uuid4().hex}"  # 50 characters, as the model wants


def job_ids(agent) -> set[str]:
    summaries = agent.list_ingestion_jobs(**IDS)["ingestionJobSummaries"]
    return {summary["ingestionJobId"] for summary in summaries}


@pytest.mark.parametrize(
    ("fault", "raised"),
    [
        ({}, botocore.exceptions.ConnectionClosedError),
        ({"status": 500}, botocore.exceptions.ClientError),
    ],
)
def test_a_lost_answer_still_starts_the_job_and_a_retry_gets_that_job(
    agent, sandbox_control, fault, raised
):
    before = job_ids(agent)
    sandbox_control.inject_fault(operation="StartIngestionJob", lostAnswer=True, count=1, **fault)
    token = client_token()
    with pytest.raises(raised) as failed:
        agent.start_ingestion_job(**IDS, clientToken=token)
    if fault:
        assert failed.value.response["Error"]["Code"] == "InternalServerException"
        assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500

    (created,) = job_ids(agent) - before  # the answer was lost, not the work
    retried = agent.start_ingestion_job(**IDS, clientToken=token)["ingestionJob"]
    assert retried["ingestionJobId"] == created
    assert job_ids(agent) - before == {created}
    assert sandbox_control.faults() == []  # count=1: used up


def test_a_lost_answer_slower_than_the_read_timeout_is_a_read_timeout_after_the_work(
    sandbox_server, sandbox_control
):
    impatient = boto3.client(
        "bedrock-agent",
        region_name=SANDBOX_REGION,
        endpoint_url=sandbox_server.url,
        aws_access_key_id="AKIAKBSYNCHTTPTEST2",
        aws_secret_access_key="http-test-secret-0123456789abcdef",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=0.3),
    )
    before = job_ids(sandbox_control.agent)
    sandbox_control.inject_fault(
        operation="StartIngestionJob", lostAnswer=True, latencySeconds=1.0, count=1
    )
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        impatient.start_ingestion_job(**IDS, clientToken=client_token())
    assert len(job_ids(sandbox_control.agent) - before) == 1


def test_a_closed_connection_is_a_connection_closed_error_and_no_job(agent, sandbox_control):
    before = job_ids(agent)
    sandbox_control.inject_fault(operation="StartIngestionJob", closeConnection=True, count=1)
    token = client_token()
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        agent.start_ingestion_job(**IDS, clientToken=token)
    assert job_ids(agent) == before
    # The same client, on a new connection, goes on.
    created = agent.start_ingestion_job(**IDS, clientToken=token)["ingestionJob"]
    assert job_ids(agent) - before == {created["ingestionJobId"]}


def test_a_fault_with_probability_one_half_hits_about_half_the_requests(
    sandbox_server, sandbox_control
):
    key = "AKIAKBSYNCHALFHALF01"
    client = agent_for(sandbox_server.url, key)
    sandbox_control.inject_fault(
        operation="ListKnowledgeBases", error="ThrottlingException", probability=0.5
    )
    throttled = 0
    for _ in range(200):
        try:
            client.list_knowledge_bases()
        except botocore.exceptions.ClientError as error:
            assert error.response["Error"]["Code"] == "ThrottlingException"
            throttled += 1
    assert 60 <= throttled <= 140  # binomial(200, 0.5): 100 +- 7 per standard deviation
    (fault,) = sandbox_control.faults()
    assert fault["count"] is None  # until cleared
    calls = [c for c in sandbox_control.calls("ListKnowledgeBases") if c["accessKeyId"] == key]
    assert len(calls) == 200  # every attempt is logged, hit or not


def test_count_is_the_number_of_requests_hit(agent, sandbox_control):
    sandbox_control.inject_fault(operation="GetDataSource", status=500, count=3)
    assert agent.get_knowledge_base(knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID)  # another op
    for remaining in (2, 1, 0):
        with pytest.raises(botocore.exceptions.ClientError) as failed:
            agent.get_data_source(**IDS)
        assert failed.value.response["Error"]["Code"] == "InternalServerException"
        assert [fault["count"] for fault in sandbox_control.faults()] == [remaining] * bool(
            remaining
        )
    assert agent.get_data_source(**IDS)["dataSource"]["dataSourceId"] == (
        SANDBOX_FAILING_DATA_SOURCE_ID
    )


def test_count_with_a_probability_counts_only_the_requests_hit(agent, sandbox_control):
    sandbox_control.inject_fault(
        operation="GetDataSource", status=500, probability=0.3, count=4, seed=11
    )
    failures = 0
    for _ in range(120):
        try:
            agent.get_data_source(**IDS)
        except botocore.exceptions.ClientError:
            failures += 1
    assert failures == 4
    assert sandbox_control.faults() == []


def test_a_latency_fault_delays_one_answer(agent, sandbox_control):
    sandbox_control.inject_fault(operation="GetKnowledgeBase", latencySeconds=0.4, count=1)
    began = time.monotonic()
    agent.get_knowledge_base(knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID)
    assert time.monotonic() - began >= 0.4
    began = time.monotonic()
    agent.get_knowledge_base(knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID)
    assert time.monotonic() - began < 0.4


def test_an_error_the_model_lacks_is_answered_with_its_given_status(agent, sandbox_control):
    added = sandbox_control.inject_fault(
        operation="ListDataSources", error="ServiceUnavailableException", status=503
    )
    assert added["error"] == "ServiceUnavailableException" and added["status"] == 503
    with pytest.raises(botocore.exceptions.ClientError) as failed:
        agent.list_data_sources(knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID)
    assert failed.value.response["Error"]["Code"] == "ServiceUnavailableException"
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    sandbox_control.clear_faults()
    assert sandbox_control.faults() == []
    assert agent.list_data_sources(knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID)


def test_the_calls_log_tells_callers_apart_and_keeps_no_secret(sandbox_server, sandbox_control):
    secret, session_token = "calls-log-secret/DoNotRecord+0123456789", "calls-log-token-DoNotRecord"
    pollers = {
        key: boto3.client(
            "bedrock-agent",
            region_name=SANDBOX_REGION,
            endpoint_url=sandbox_server.url,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=session_token,
            config=Config(retries={"total_max_attempts": 1}, user_agent_extra=agent_name),
        )
        for key, agent_name in [
            ("AKIAKBSYNCPOLLER0001", "kbsync-test-poller/1"),
            ("AKIAKBSYNCPOLLER0002", "kbsync-test-poller/2"),
        ]
    }
    began = time.time()
    first, second = pollers.values()
    for _ in range(3):
        first.get_data_source(**IDS)
    second.get_data_source(**IDS)
    second.list_knowledge_bases()

    calls = [
        call for call in sandbox_control.calls("GetDataSource") if call["at"] >= began
    ]
    by_key = {key: [c for c in calls if c["accessKeyId"] == key] for key in pollers}
    assert [len(by_key[key]) for key in pollers] == [3, 1]
    assert all("kbsync-test-poller/1" in c["userAgent"] for c in by_key["AKIAKBSYNCPOLLER0001"])
    assert all("kbsync-test-poller/2" in c["userAgent"] for c in by_key["AKIAKBSYNCPOLLER0002"])
    assert calls[-1]["parameters"] == IDS
    assert began <= calls[0]["at"] <= calls[-1]["at"] <= time.time()
    assert {c["operation"] for c in sandbox_control.calls()} >= {
        "GetDataSource", "ListKnowledgeBases",
    }

    raw = JsonClient(sandbox_server.url).get("/_kbsync_sandbox/calls").raw
    for never in (secret, session_token, "Signature=", "AWS4-HMAC-SHA256"):
        assert never.encode() not in raw
    sandbox_control.clear_calls()
    assert sandbox_control.calls() == []


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"operation": "GetIngestionJobs", "status": 500}, "GetIngestionJobs"),
        ({"status": 500, "probability": 0}, "probability"),
        ({"status": 500, "probability": 1.5}, "probability"),
        ({"operation": "GetIngestionJob"}, "something to do"),
        ({"operation": "GetIngestionJob", "count": 3}, "something to do"),
        ({"error": "TeapotException"}, "status"),
        ({"status": 418}, "418"),
        ({"status": "500"}, "status"),
        ({"status": 500, "count": 0}, "count"),
        ({"latencySeconds": -1}, "latencySeconds"),
        ({"lostAnswer": True, "closeConnection": True}, "exclude"),
        ({"closeConnection": True, "status": 500}, "closeConnection"),
        ({"lostAnswer": "yes"}, "lostAnswer"),
        ({"status": 500, "latency": 2}, "latency"),
        (["status", 500], "JSON object"),
    ],
)
def test_a_fault_that_cannot_apply_is_a_400_saying_why(sandbox_control, sandbox_server, body, said):
    reply = JsonClient(sandbox_server.url).post("/_kbsync_sandbox/faults", body)
    assert reply.status == 400, reply.json
    assert said in reply.json["message"]
    assert sandbox_control.faults() == []


def test_control_requests_that_are_not_json_or_not_known_are_refused(sandbox_server):
    control = JsonClient(sandbox_server.url)
    assert control.post("/_kbsync_sandbox/faults", raw=b"{not json").status == 400
    assert control.get("/_kbsync_sandbox/calls", operation="NoSuchOperation").status == 400
    assert control.get("/_kbsync_sandbox/calls", op="GetIngestionJob").status == 400
    assert control.request("PUT", "/_kbsync_sandbox/faults").status == 404
