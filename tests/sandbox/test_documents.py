"""Direct ingestion into the sandbox: the CUSTOM data source SANDBOXDS3 and the document
operations (Ingest/Get/List/DeleteKnowledgeBaseDocuments), with real boto3 clients.

Every answer a test here receives is checked against botocore's model on the raw JSON
(test_response_shapes' check), so the shapes cannot drift while the behaviour is tested.
"""

import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kbsync_sandbox import (
    SANDBOX_CUSTOM_DATA_SOURCE_ID,
    SANDBOX_DATA_SOURCE_ID,
    SANDBOX_KNOWLEDGE_BASE_ID,
    SANDBOX_REGION,
    documents,
)
from kbsync_sandbox.server import operation_for
from tests.api.client import JsonClient
from tests.support.servers import start_sandbox_server

from .conftest import NO_RETRIES, make_client
from .test_response_shapes import Recorder, answer_violations

DS3 = {"knowledgeBaseId": SANDBOX_KNOWLEDGE_BASE_ID, "dataSourceId": SANDBOX_CUSTOM_DATA_SOURCE_ID}
DS1 = {"knowledgeBaseId": SANDBOX_KNOWLEDGE_BASE_ID, "dataSourceId": SANDBOX_DATA_SOURCE_ID}
TOKEN = "kbsync-batch-00000000000000000000000000001"  # 33 to 256 characters


def text_document(document_id: str, text: str = "# Title\n\nSome text.", **attributes) -> dict:
    document = {
        "content": {
            "dataSourceType": "CUSTOM",
            "custom": {
                "customDocumentIdentifier": {"id": document_id},
                "sourceType": "IN_LINE",
                "inlineContent": {"type": "TEXT", "textContent": {"data": text}},
            },
        }
    }
    if attributes:
        document["metadata"] = {
            "type": "IN_LINE_ATTRIBUTE",
            "inlineAttributes": [{"key": key, "value": value} for key, value in attributes.items()],
        }
    return document


def custom_id(document_id: str) -> dict:
    return {"dataSourceType": "CUSTOM", "custom": {"id": document_id}}


@pytest.fixture
def agent(sb):
    """A client whose every raw answer must match botocore's model."""
    recorder = Recorder()
    client = recorder.watch(make_client("bedrock-agent", config=NO_RETRIES))
    yield client
    violations = [
        f"{operation.name} {status}: {problem}"
        for operation, status, headers, body in recorder.answers
        for problem in answer_violations(operation, status, headers, body)
    ]
    assert violations == []


def statuses(agent, *ids: str) -> list[str]:
    answer = agent.get_knowledge_base_documents(
        **DS3, documentIdentifiers=[custom_id(i) for i in ids]
    )
    return [detail["status"] for detail in answer["documentDetails"]]


def error_of(call, **params) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**params)
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.mark.parametrize(
    ("method", "suffix", "operation"),
    [
        ("PUT", "", "IngestKnowledgeBaseDocuments"),
        ("POST", "", "ListKnowledgeBaseDocuments"),
        ("POST", "/getDocuments", "GetKnowledgeBaseDocuments"),
        ("POST", "/deleteDocuments", "DeleteKnowledgeBaseDocuments"),
    ],
)
def test_the_server_routes_the_document_operations(method, suffix, operation):
    path = f"/knowledgebases/SANDBOXKB1/datasources/SANDBOXDS3/documents{suffix}"
    assert operation_for(method, path) == operation


def test_the_custom_data_source_has_no_bucket_and_nothing_to_sync(agent):
    summaries = agent.list_data_sources(knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID)
    assert SANDBOX_CUSTOM_DATA_SOURCE_ID in [
        summary["dataSourceId"] for summary in summaries["dataSourceSummaries"]
    ]
    source = agent.get_data_source(**DS3)["dataSource"]
    assert source["dataSourceConfiguration"] == {"type": "CUSTOM"}
    code, message = error_of(agent.start_ingestion_job, **DS3)
    assert code == "ValidationException"
    assert "IngestKnowledgeBaseDocuments" in message


def test_a_document_moves_from_starting_to_indexed_over_simulated_time(sb, agent, monkeypatch):
    # Wide phases, so that real sleeps land inside them on a loaded machine.
    monkeypatch.setattr(documents, "DOCUMENT_STARTING_SECONDS", 1.0)
    monkeypatch.setattr(documents, "DOCUMENT_INDEXING_SECONDS", 100.0)
    sb.speed = 1
    answer = agent.ingest_knowledge_base_documents(
        **DS3,
        documents=[
            text_document(
                "faq-1",
                "# Refunds\n\nWithin 30 days.",
                category={"type": "STRING", "stringValue": "billing"},
                priority={"type": "NUMBER", "numberValue": 2.5},
                public={"type": "BOOLEAN", "booleanValue": True},
                tags={"type": "STRING_LIST", "stringListValue": ["refund", "policy"]},
            )
        ],
    )
    (detail,) = answer["documentDetails"]
    assert detail["status"] == "STARTING"
    assert detail["identifier"] == custom_id("faq-1")
    assert statuses(agent, "faq-1") == ["STARTING"]

    sb.speed = 1000
    time.sleep(0.005)  # at least 5 simulated seconds: past STARTING, well inside IN_PROGRESS
    sb.speed = 1
    assert statuses(agent, "faq-1") == ["IN_PROGRESS"]

    sb.speed = 1000  # the remaining ~96 simulated seconds take ~0.1 s
    deadline = time.monotonic() + 5
    while statuses(agent, "faq-1") != ["INDEXED"]:
        assert time.monotonic() < deadline, "the document never became INDEXED"
        time.sleep(0.01)

    (stored,) = sb.documents()
    assert stored["content"] == "# Refunds\n\nWithin 30 days."
    assert stored["attributes"] == {
        "category": "billing",
        "priority": 2.5,
        "public": True,
        "tags": ["refund", "policy"],
    }
    assert (stored["status"], stored["ingestions"]) == ("INDEXED", 1)


def test_documents_bedrock_would_not_index_fail_with_a_reason(sb, agent, monkeypatch):
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 100)
    agent.ingest_knowledge_base_documents(
        **DS3,
        documents=[
            text_document("blank", " \n\t "),
            text_document("too-large", "x" * 101),
            text_document("just-fits", "x" * 100),
            {
                "content": {
                    "dataSourceType": "CUSTOM",
                    "custom": {
                        "customDocumentIdentifier": {"id": "missing-object"},
                        "sourceType": "S3_LOCATION",
                        "s3Location": {"uri": "s3://kbsync-sandbox-ops-handbook/nope.md"},
                    },
                }
            },
        ],
    )
    sb.finish_running_jobs()
    answer = agent.get_knowledge_base_documents(
        **DS3,
        documentIdentifiers=[
            custom_id(i) for i in ("blank", "too-large", "just-fits", "missing-object")
        ],
    )
    outcome = {
        detail["identifier"]["custom"]["id"]: (detail["status"], detail.get("statusReason"))
        for detail in answer["documentDetails"]
    }
    assert outcome["just-fits"] == ("INDEXED", None)
    assert outcome["blank"][0] == "FAILED" and "no text" in outcome["blank"][1]
    assert outcome["too-large"][0] == "FAILED" and "101 bytes" in outcome["too-large"][1]
    assert outcome["missing-object"][0] == "FAILED"
    assert "NoSuchKey" in outcome["missing-object"][1]


def test_requests_past_the_models_and_bedrocks_limits_are_refused(sb, agent):
    eleven = [text_document(f"doc-{n}") for n in range(11)]
    code, message = error_of(agent.ingest_knowledge_base_documents, **DS3, documents=eleven)
    assert code == "ValidationException"
    assert "'documents'" in message and "less than or equal to 10" in message

    # Two documents within the model's 5,242,880 characters each, over 6 MB together.
    big = "y" * 3_200_000
    code, message = error_of(
        agent.ingest_knowledge_base_documents,
        **DS3,
        documents=[text_document("big-1", big), text_document("big-2", big)],
    )
    assert code == "ValidationException" and "6291456-byte quota" in message

    attributes = {f"key{n}": {"type": "NUMBER", "numberValue": n} for n in range(51)}
    code, message = error_of(
        agent.ingest_knowledge_base_documents,
        **DS3,
        documents=[text_document("many-attributes", **attributes)],
    )
    assert code == "ValidationException" and "less than or equal to 50" in message
    assert sb.documents() == []  # nothing of a refused request was ingested


def test_more_than_five_writes_per_second_are_throttled(sb, agent):
    sb.speed = 1  # the one-second window is simulated: at speed 1 it is a real second
    for n in range(5):
        agent.ingest_knowledge_base_documents(**DS3, documents=[text_document(f"doc-{n}")])
    code, _ = error_of(
        agent.ingest_knowledge_base_documents, **DS3, documents=[text_document("doc-5")]
    )
    assert code == "ThrottlingException"
    # Deletions have a window of their own.
    agent.delete_knowledge_base_documents(**DS3, documentIdentifiers=[custom_id("doc-0")])

    sb.speed = 1000
    time.sleep(0.002)  # over a simulated second later, the window has moved on
    agent.ingest_knowledge_base_documents(**DS3, documents=[text_document("doc-5")])
    assert len(sb.documents()) == 6


def test_a_client_token_makes_a_retry_harmless(sb, agent):
    sb.speed = 1
    first = agent.ingest_knowledge_base_documents(
        **DS3, clientToken=TOKEN, documents=[text_document("doc", "first")]
    )
    retried = agent.ingest_knowledge_base_documents(
        **DS3, clientToken=TOKEN, documents=[text_document("doc", "first")]
    )
    # Bedrock documents that a request whose token matches an earlier one is ignored without
    # an error, whatever its body.
    changed = agent.ingest_knowledge_base_documents(
        **DS3, clientToken=TOKEN, documents=[text_document("doc", "second")]
    )
    assert retried["documentDetails"] == first["documentDetails"]
    assert changed["documentDetails"] == first["documentDetails"]
    [stored] = sb.documents()
    assert (stored["content"], stored["ingestions"]) == ("first", 1)

    sb.finish_running_jobs()
    assert statuses(agent, "doc") == ["INDEXED"]
    # Another token is another request: the document is replaced and indexed again.
    again = agent.ingest_knowledge_base_documents(
        **DS3, clientToken=TOKEN.replace("1", "2"), documents=[text_document("doc", "second")]
    )
    assert [d["status"] for d in again["documentDetails"]] == ["STARTING"]
    [stored] = sb.documents()
    assert (stored["content"], stored["ingestions"]) == ("second", 2)


def test_unknown_documents_are_not_found_and_deleted_ones_go(sb, agent):
    sb.speed = 1
    agent.ingest_knowledge_base_documents(
        **DS3, documents=[text_document("keep"), text_document("drop")]
    )
    sb.finish_running_jobs()
    assert statuses(agent, "keep", "never-sent") == ["INDEXED", "NOT_FOUND"]

    deleted = agent.delete_knowledge_base_documents(
        **DS3, documentIdentifiers=[custom_id("drop"), custom_id("never-sent")]
    )
    assert [d["status"] for d in deleted["documentDetails"]] == [
        "DELETE_IN_PROGRESS",
        "NOT_FOUND",
    ]
    assert statuses(agent, "drop") == ["DELETE_IN_PROGRESS"]
    sb.finish_running_jobs()
    assert statuses(agent, "drop") == ["NOT_FOUND"]
    listed = agent.list_knowledge_base_documents(**DS3)["documentDetails"]
    assert [d["identifier"] for d in listed] == [custom_id("keep")]
    assert [(d["id"], d["status"]) for d in sb.documents()] == [
        ("keep", "INDEXED"),
        ("drop", "NOT_FOUND"),
    ]


def test_the_list_is_paginated_in_ingestion_order(sb, agent):
    ids = [f"doc-{n:02}" for n in range(25)]
    for start in range(0, 25, 10):
        agent.ingest_knowledge_base_documents(
            **DS3, documents=[text_document(i) for i in ids[start : start + 10]]
        )
    pages, token = [], None
    while True:
        page = agent.list_knowledge_base_documents(
            **DS3, maxResults=10, **({"nextToken": token} if token else {})
        )
        pages.append([d["identifier"]["custom"]["id"] for d in page["documentDetails"]])
        token = page.get("nextToken")
        if token is None:
            break
    assert [len(page) for page in pages] == [10, 10, 5]
    assert [i for page in pages for i in page] == ids
    code, _ = error_of(agent.list_knowledge_base_documents, **DS3, nextToken="forged")
    assert code == "ValidationException"


def test_content_must_fit_the_data_sources_type(sb, agent, s3):
    s3_document = {
        "content": {
            "dataSourceType": "S3",
            "s3": {"s3Location": {"uri": "s3://kbsync-sandbox-ops-handbook/oncall/rotation.md"}},
        }
    }
    code, message = error_of(agent.ingest_knowledge_base_documents, **DS3, documents=[s3_document])
    assert code == "ValidationException" and "CUSTOM" in message
    code, _ = error_of(
        agent.ingest_knowledge_base_documents, **DS1, documents=[text_document("inline")]
    )
    assert code == "ValidationException"  # an S3 data source takes no inline content

    answer = agent.ingest_knowledge_base_documents(**DS1, documents=[s3_document])
    assert answer["documentDetails"][0]["identifier"] == {
        "dataSourceType": "S3",
        "s3": {"uri": "s3://kbsync-sandbox-ops-handbook/oncall/rotation.md"},
    }
    (stored,) = sb.documents(SANDBOX_DATA_SOURCE_ID)
    rotation = s3.get_object(Bucket="kbsync-sandbox-ops-handbook", Key="oncall/rotation.md")
    assert stored["content"] == rotation["Body"].read().decode()


def test_the_standalone_server_serves_documents_to_another_process(tmp_path):
    with start_sandbox_server(tmp_path, speed=200) as server:
        agent = boto3.client(
            "bedrock-agent",
            region_name=SANDBOX_REGION,
            endpoint_url=server.url,
            aws_access_key_id="AKIAKBSYNCDOCSHTTP01",
            aws_secret_access_key="http-documents-secret-0123456789abcdef",
            config=Config(retries={"total_max_attempts": 1}),
        )
        control = JsonClient(server.url)
        answer = agent.ingest_knowledge_base_documents(
            **DS3,
            clientToken=TOKEN,
            documents=[
                text_document(
                    "over-http", "Sent over HTTP.", lang={"type": "STRING", "stringValue": "en"}
                )
            ],
        )
        assert answer["documentDetails"][0]["status"] == "STARTING"
        assert control.post("/_kbsync_sandbox/finish-running-jobs").status == 200
        assert statuses(agent, "over-http") == ["INDEXED"]

        read_back = control.get("/_kbsync_sandbox/documents")
        assert read_back.status == 200
        [stored] = read_back.json["documents"]
        assert (stored["id"], stored["content"], stored["attributes"]) == (
            "over-http",
            "Sent over HTTP.",
            {"lang": "en"},
        )
        counts = control.get("/_kbsync_sandbox/call-counts").json["counts"]
        assert counts == {"IngestKnowledgeBaseDocuments": 1, "GetKnowledgeBaseDocuments": 1}
        assert control.get("/_kbsync_sandbox/documents", dataSourceId="NOSUCHDS00").status == 400
