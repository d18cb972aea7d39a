"""Errors, access denial, injected faults and the sandbox's own lifecycle."""

import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kbsync_sandbox import (
    DENIED_ACCESS_KEY_PREFIX,
    SANDBOX_DATA_SOURCE_ID,
    SANDBOX_KNOWLEDGE_BASE_ID,
    SANDBOX_REGION,
    Sandbox,
    sandbox,
)

from .conftest import ACCESS_KEY_ID, NO_RETRIES, SECRET_ACCESS_KEY, SESSION_TOKEN, make_client

DS = {"knowledgeBaseId": SANDBOX_KNOWLEDGE_BASE_ID, "dataSourceId": SANDBOX_DATA_SOURCE_ID}


def raised_error(call, **params):
    with pytest.raises(ClientError) as raised:
        call(**params)
    return raised.value.response


def test_the_sample_knowledge_base_and_data_sources(agent):
    (summary,) = agent.list_knowledge_bases()["knowledgeBaseSummaries"]
    assert summary["knowledgeBaseId"] == SANDBOX_KNOWLEDGE_BASE_ID
    base = agent.get_knowledge_base(knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID)["knowledgeBase"]
    assert base["status"] == "ACTIVE"
    sources = agent.list_data_sources(knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID)
    assert [s["dataSourceId"] for s in sources["dataSourceSummaries"]] == [
        "SANDBOXDS1",
        "SANDBOXDS2",
        "SANDBOXDS3",
    ]


def test_the_data_source_bucket_holds_markdown_documents_and_sidecars(agent, s3):
    source = agent.get_data_source(**DS)["dataSource"]
    bucket = source["dataSourceConfiguration"]["s3Configuration"]["bucketArn"].split(":::")[1]
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    documents = [key for key in keys if key.endswith(".md")]
    sidecars = [key for key in keys if key.endswith(".md.metadata.json")]
    assert len(documents) == 20
    assert len(sidecars) == 6
    assert set(sidecars) <= {key + ".metadata.json" for key in documents}
    body = s3.get_object(Bucket=bucket, Key=documents[0])["Body"].read().decode()
    assert body.startswith("# ")


@pytest.mark.parametrize(
    ("call", "params"),
    [
        ("get_knowledge_base", {"knowledgeBaseId": "NOSUCHKB00"}),
        ("list_data_sources", {"knowledgeBaseId": "NOSUCHKB00"}),
        ("get_data_source", {**DS, "dataSourceId": "NOSUCHDS00"}),
        ("start_ingestion_job", {**DS, "dataSourceId": "NOSUCHDS00"}),
        ("list_ingestion_jobs", {**DS, "knowledgeBaseId": "NOSUCHKB00"}),
        ("get_ingestion_job", {**DS, "ingestionJobId": "NOSUCHJOB0"}),
        ("stop_ingestion_job", {**DS, "ingestionJobId": "NOSUCHJOB0"}),
    ],
)
def test_unknown_resources_are_not_found(agent, call, params):
    response = raised_error(getattr(agent, call), **params)
    assert response["Error"]["Code"] == "ResourceNotFoundException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_other_regions_have_no_knowledge_base(sb):
    elsewhere = make_client("bedrock-agent", region="eu-west-1", config=NO_RETRIES)
    assert elsewhere.list_knowledge_bases()["knowledgeBaseSummaries"] == []
    response = raised_error(elsewhere.get_knowledge_base, knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID)
    assert response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize(
    ("call", "params", "field"),
    [
        ("get_knowledge_base", {"knowledgeBaseId": "short"}, "knowledgeBaseId"),
        ("get_ingestion_job", {**DS, "ingestionJobId": "bad-job-id"}, "ingestionJobId"),
        ("list_knowledge_bases", {"maxResults": 1001}, "maxResults"),
        ("start_ingestion_job", {**DS, "clientToken": "x" * 32 + "_"}, "clientToken"),
        ("start_ingestion_job", {**DS, "description": "d" * 201}, "description"),
        ("list_ingestion_jobs", {**DS, "nextToken": "not-a-token"}, "nextToken"),
        (
            "list_ingestion_jobs",
            {**DS, "sortBy": {"attribute": "UPDATED_AT", "order": "ASCENDING"}},
            "sortBy.attribute",
        ),
        (
            "list_ingestion_jobs",
            {**DS, "filters": [{"attribute": "NAME", "operator": "EQ", "values": ["x"]}]},
            "filters.1.member.attribute",
        ),
    ],
)
def test_invalid_input_is_a_validation_error(agent, call, params, field):
    response = raised_error(getattr(agent, call), **params)
    assert response["Error"]["Code"] == "ValidationException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert field in response["Error"]["Message"]


def test_operations_not_simulated_say_so(agent):
    response = raised_error(agent.delete_knowledge_base, knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID)
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        "The kbsync sandbox does not simulate DeleteKnowledgeBase."
    )


def test_a_denied_access_key_gets_access_denied_without_the_key_being_kept(sb):
    denied_key = DENIED_ACCESS_KEY_PREFIX + "EXAMPLE1"
    denied = make_client("bedrock-agent", access_key_id=denied_key, config=NO_RETRIES)
    for call, params in [("list_knowledge_bases", {}), ("start_ingestion_job", DS)]:
        response = raised_error(getattr(denied, call), **params)
        assert response["Error"]["Code"] == "AccessDeniedException"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert denied_key not in response["Error"]["Message"]
    assert make_client("bedrock-agent").list_knowledge_bases()["knowledgeBaseSummaries"]
    recorded = repr(sb.calls)
    for secret in (denied_key, ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN):
        assert secret not in recorded


def test_calls_records_operations_and_parameters(sb, agent):
    agent.get_data_source(**DS)
    agent.list_ingestion_jobs(**DS, maxResults=5)
    assert sb.calls == [
        ("GetDataSource", DS),
        ("ListIngestionJobs", {**DS, "maxResults": 5}),
    ]


def test_a_throttling_fault_is_a_throttling_exception(sb):
    sb.inject_fault(operation="GetIngestionJob", error="ThrottlingException", count=3)
    client = make_client("bedrock-agent", config=Config(retries={"max_attempts": 1}))
    params = {**DS, "ingestionJobId": "NOSUCHJOB0"}
    throttled = raised_error(client.get_ingestion_job, **params)
    assert throttled["Error"]["Code"] == "ThrottlingException"
    assert throttled["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert len(sb.calls) == 2  # the first attempt and its one retry
    # The third throttle is still waiting; other operations are not affected.
    assert client.get_data_source(**DS)["dataSource"]["dataSourceId"] == SANDBOX_DATA_SOURCE_ID
    no_retries = make_client("bedrock-agent", config=NO_RETRIES)
    assert raised_error(no_retries.get_ingestion_job, **params)["Error"]["Code"] == (
        "ThrottlingException"
    )


def test_a_status_500_fault_is_an_internal_server_error(sb, agent):
    sb.inject_fault(operation="ListKnowledgeBases", status=500, count=1)
    response = raised_error(agent.list_knowledge_bases)
    assert response["Error"]["Code"] == "InternalServerException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert agent.list_knowledge_bases()["knowledgeBaseSummaries"]


def test_a_latency_fault_delays_the_answer_in_real_seconds(sb, agent):
    sb.inject_fault(operation="StartIngestionJob", latency_seconds=0.3, count=1)
    began = time.monotonic()
    assert agent.start_ingestion_job(**DS)["ingestionJob"]["status"] == "STARTING"
    assert time.monotonic() - began >= 0.3
    began = time.monotonic()
    agent.get_data_source(**DS)
    assert time.monotonic() - began < 0.3


def test_a_fault_for_any_operation_lasts_until_cleared(sb, agent):
    sb.inject_fault(error="AccessDeniedException")
    for call, params in [("list_knowledge_bases", {}), ("get_data_source", DS)]:
        assert raised_error(getattr(agent, call), **params)["Error"]["Code"] == (
            "AccessDeniedException"
        )
    sb.clear_faults()
    assert agent.get_data_source(**DS)["dataSource"]["dataSourceId"] == SANDBOX_DATA_SOURCE_ID


@pytest.mark.parametrize(
    "fault",
    [
        {},
        {"status": 418},
        {"error": "TeapotException"},
        {"error": "ThrottlingException", "count": 0},
        {"operation": "get_ingestion_job", "error": "ThrottlingException"},
    ],
)
def test_faults_that_cannot_be_answered_are_refused(sb, fault):
    with pytest.raises(ValueError):
        sb.inject_fault(**fault)


def test_each_entry_starts_from_the_same_fresh_state():
    with sandbox(speed=200) as first:
        agent = make_client("bedrock-agent")
        s3 = make_client("s3")
        agent.start_ingestion_job(**DS)
        s3.create_bucket(Bucket="left-behind")
        first.add_data_source("EXTRADS001", {"doc.md": b"# Doc"})
        first.inject_fault(operation="ListDataSources", error="ThrottlingException")

    with sandbox(speed=200) as second:
        agent = make_client("bedrock-agent", config=NO_RETRIES)
        s3 = make_client("s3")
        assert agent.list_ingestion_jobs(**DS)["ingestionJobSummaries"] == []
        summaries = agent.list_data_sources(knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID)
        assert len(summaries["dataSourceSummaries"]) == 3
        assert "left-behind" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert second.calls == [
            ("ListIngestionJobs", DS),
            ("ListDataSources", {"knowledgeBaseId": SANDBOX_KNOWLEDGE_BASE_ID}),
        ]


def test_only_one_sandbox_runs_at_a_time_and_stop_is_idempotent():
    running = Sandbox().start()
    try:
        with pytest.raises(RuntimeError, match="already running"), sandbox():
            pass
    finally:
        running.stop()
    running.stop()
    with sandbox():  # the slot is free again
        pass


def test_speed_must_be_positive():
    with pytest.raises(ValueError):
        Sandbox(speed=0)
    with Sandbox(speed=3) as sb:
        assert sb.speed == 3
        with pytest.raises(ValueError):
            sb.speed = -1
        assert sb.speed == 3


def test_a_client_kept_from_a_stopped_sandbox_fails_instead_of_reaching_aws():
    with sandbox():
        kept = boto3.client("bedrock-agent", region_name=SANDBOX_REGION)
    with pytest.raises(RuntimeError, match="sandbox that has stopped"):
        kept.list_knowledge_bases()


def test_any_endpoint_url_is_answered(sb):
    custom = boto3.client(
        "bedrock-agent", region_name=SANDBOX_REGION, endpoint_url="http://localhost:4566/prefix"
    )
    assert custom.list_knowledge_bases()["knowledgeBaseSummaries"]
    assert custom.get_data_source(**DS)["dataSource"]["dataSourceId"] == SANDBOX_DATA_SOURCE_ID
