"""Injected faults in-process: lost answers, closed connections, probability, and the log of
who called what."""

import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from kbsync_sandbox import SANDBOX_DATA_SOURCE_ID, SANDBOX_KNOWLEDGE_BASE_ID

from .conftest import ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN, make_client

DS = {"knowledgeBaseId": SANDBOX_KNOWLEDGE_BASE_ID, "dataSourceId": SANDBOX_DATA_SOURCE_ID}
TOKEN = "kbsync-fault-kinds-token-00000000000001"
# botocore's standard retry mode: a dropped connection and a 500 are retried.
RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 3})


def job_ids(agent) -> list[str]:
    return [s["ingestionJobId"] for s in agent.list_ingestion_jobs(**DS)["ingestionJobSummaries"]]


def test_a_lost_answer_is_a_closed_connection_after_the_job_was_started(sb, agent):
    sb.inject_fault(operation="StartIngestionJob", lost_answer=True, count=1)
    with pytest.raises(ConnectionClosedError):
        agent.start_ingestion_job(**DS, clientToken=TOKEN)
    (created,) = job_ids(agent)
    retried = agent.start_ingestion_job(**DS, clientToken=TOKEN)["ingestionJob"]
    assert retried["ingestionJobId"] == created
    assert job_ids(agent) == [created]


def test_a_lost_answer_with_a_status_answers_that_error_after_the_work(sb, agent):
    sb.inject_fault(operation="StartIngestionJob", lost_answer=True, status=500, count=1)
    with pytest.raises(ClientError) as failed:
        agent.start_ingestion_job(**DS, clientToken=TOKEN)
    assert failed.value.response["Error"]["Code"] == "InternalServerException"
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert len(job_ids(agent)) == 1


def test_botocores_retry_of_a_lost_start_reuses_its_client_token_and_gets_the_same_job(sb):
    # No clientToken given: botocore fills in one (an idempotencyToken member) once per call,
    # and its retry sends the same, so the retried start gets the job the lost one started.
    sb.inject_fault(operation="StartIngestionJob", lost_answer=True, count=1)
    retrying = make_client("bedrock-agent", config=RETRIES)
    job = retrying.start_ingestion_job(**DS)["ingestionJob"]
    assert job_ids(retrying) == [job["ingestionJobId"]]
    starts = [params for operation, params in sb.calls if operation == "StartIngestionJob"]
    assert len(starts) == 2
    assert starts[0]["clientToken"] == starts[1]["clientToken"]


def test_a_closed_connection_is_a_connection_closed_error_and_nothing_is_done(sb, agent):
    sb.inject_fault(operation="StartIngestionJob", close_connection=True, count=1)
    with pytest.raises(ConnectionClosedError) as closed:
        agent.start_ingestion_job(**DS, clientToken=TOKEN)
    assert closed.value.kwargs["endpoint_url"].startswith("https://bedrock-agent.")
    assert job_ids(agent) == []
    # botocore retries it as any dropped connection.
    retrying = make_client("bedrock-agent", config=RETRIES)
    sb.inject_fault(operation="StartIngestionJob", close_connection=True, count=2)
    job = retrying.start_ingestion_job(**DS, clientToken=TOKEN)["ingestionJob"]
    assert job_ids(agent) == [job["ingestionJobId"]]
    assert [operation for operation, _ in sb.calls].count("StartIngestionJob") == 4


def test_a_lost_answer_waits_its_latency_after_the_work(sb, agent):
    sb.inject_fault(operation="StartIngestionJob", lost_answer=True, latency_seconds=0.3, count=1)
    began = time.monotonic()
    with pytest.raises(ConnectionClosedError):
        agent.start_ingestion_job(**DS)
    assert time.monotonic() - began >= 0.3
    assert len(job_ids(agent)) == 1


def test_a_fault_with_probability_one_half_hits_about_half_the_requests(sb, agent):
    sb.inject_fault(operation="ListKnowledgeBases", error="ThrottlingException", probability=0.5)
    throttled = 0
    for _ in range(200):
        try:
            agent.list_knowledge_bases()
        except ClientError as error:
            assert error.response["Error"]["Code"] == "ThrottlingException"
            throttled += 1
    assert 60 <= throttled <= 140  # binomial(200, 0.5): 100 +- 7 per standard deviation
    assert agent.get_data_source(**DS)  # another operation: never hit


def outcomes(sb, agent, seed: int) -> list[bool]:
    sb.clear_faults()
    sb.inject_fault(operation="GetDataSource", status=500, probability=0.5, seed=seed)
    hits = []
    for _ in range(30):
        try:
            agent.get_data_source(**DS)
            hits.append(False)
        except ClientError:
            hits.append(True)
    return hits


def test_a_seed_makes_the_dice_repeatable(sb, agent):
    assert outcomes(sb, agent, seed=5) == outcomes(sb, agent, seed=5)
    assert outcomes(sb, agent, seed=5) != outcomes(sb, agent, seed=6)


def test_count_counts_the_requests_hit_not_those_the_dice_spared(sb, agent):
    fault = sb.inject_fault(operation="GetDataSource", status=500, probability=0.25, count=3)
    assert fault.remaining == 3 and fault.probability == 0.25
    failures = 0
    for _ in range(150):
        try:
            agent.get_data_source(**DS)
        except ClientError:
            failures += 1
    assert failures == 3
    assert sb.faults == []


def test_the_faults_in_force_are_listed_with_what_remains(sb, agent):
    sb.inject_fault(operation="GetDataSource", status=500, count=2)
    sb.inject_fault(latency_seconds=0.01)
    with pytest.raises(ClientError):
        agent.get_data_source(**DS)
    first, second = sb.faults
    assert (first.operation, first.error, first.status, first.remaining) == (
        "GetDataSource",
        "InternalServerException",
        500,
        1,
    )
    assert (second.operation, second.latency_seconds, second.remaining) == (None, 0.01, None)
    sb.clear_faults()
    assert sb.faults == []


def test_an_error_the_model_lacks_is_answered_with_its_given_status(sb, agent):
    sb.inject_fault(error="ServiceUnavailableException", status=503, count=1)
    with pytest.raises(ClientError) as failed:
        agent.list_knowledge_bases()
    assert failed.value.response["Error"]["Code"] == "ServiceUnavailableException"
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500, "probability": 0},
        {"status": 500, "probability": 1.01},
        {"status": 500, "probability": float("nan")},
        {"status": 500, "latency_seconds": -0.1},
        {"status": 200},
        {"status": True},
        {"status": 500, "count": True},
        {"lost_answer": True, "close_connection": True},
        {"close_connection": True, "error": "ThrottlingException"},
        {"operation": "GetIngestionJob", "count": 2},
    ],
)
def test_new_kinds_of_faults_that_cannot_apply_are_refused(sb, fault):
    with pytest.raises(ValueError):
        sb.inject_fault(**fault)
    assert sb.faults == []


def test_the_call_log_says_who_called_with_no_secret(sb, agent):
    poller = make_client(
        "bedrock-agent",
        access_key_id="AKIAKBSYNCPOLLER0001",
        config=Config(user_agent_extra="kbsync-test-poller/1"),
    )
    began = time.time()
    poller.get_data_source(**DS)
    agent.list_ingestion_jobs(**DS)
    sb.inject_fault(close_connection=True, count=1)
    with pytest.raises(ConnectionClosedError):
        agent.get_data_source(**DS)

    first, second, third = sb.call_log
    assert (first.operation, first.parameters, first.access_key_id) == (
        "GetDataSource",
        DS,
        "AKIAKBSYNCPOLLER0001",
    )
    assert "kbsync-test-poller/1" in first.user_agent
    assert (second.operation, second.access_key_id) == ("ListIngestionJobs", ACCESS_KEY_ID)
    assert "kbsync-test-poller" not in second.user_agent
    assert third.operation == "GetDataSource"  # a request with no answer is still logged
    assert began <= first.at <= second.at <= third.at <= time.time()
    # `calls` keeps its shape.
    assert sb.calls == [("GetDataSource", DS), ("ListIngestionJobs", DS), ("GetDataSource", DS)]
    recorded = repr(sb.call_log) + repr([call.as_json() for call in sb.call_log])
    for never in (SECRET_ACCESS_KEY, SESSION_TOKEN, "Signature=", "AWS4-HMAC-SHA256"):
        assert never not in recorded
    sb.clear_calls()
    assert sb.calls == [] and sb.call_log == []
