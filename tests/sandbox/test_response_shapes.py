"""Every answer the sandbox gives matches botocore's bedrock-agent model, checked on the raw
JSON body the client received (before botocore's parser, which would silently drop extras)."""

import json
import re
import time
from datetime import datetime

import pytest
from botocore.exceptions import ClientError
from botocore.loaders import Loader
from botocore.model import ServiceModel

from kbsync_sandbox import (
    DENIED_ACCESS_KEY_PREFIX,
    SANDBOX_CUSTOM_DATA_SOURCE_ID,
    SANDBOX_DATA_SOURCE_ID,
    SANDBOX_FAILING_DATA_SOURCE_ID,
    SANDBOX_KNOWLEDGE_BASE_ID,
)

from .conftest import NO_RETRIES, make_client

MODEL = ServiceModel(Loader().load_service_model("bedrock-agent", "service-2"))
ISO_8601 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
KB = {"knowledgeBaseId": SANDBOX_KNOWLEDGE_BASE_ID}
DS1 = {**KB, "dataSourceId": SANDBOX_DATA_SOURCE_ID}
DS2 = {**KB, "dataSourceId": SANDBOX_FAILING_DATA_SOURCE_ID}
DS3 = {**KB, "dataSourceId": SANDBOX_CUSTOM_DATA_SOURCE_ID}
NO_DS = {**KB, "dataSourceId": "NOSUCHDS00"}
DOCUMENT = {
    "content": {
        "dataSourceType": "CUSTOM",
        "custom": {
            "customDocumentIdentifier": {"id": "tour"},
            "sourceType": "IN_LINE",
            "inlineContent": {"type": "TEXT", "textContent": {"data": "# Tour"}},
        },
    }
}
DOCUMENT_ID = {"dataSourceType": "CUSTOM", "custom": {"id": "tour"}}
# One valid request per served operation, used for the errors every operation can answer.
VALID_REQUESTS = {
    "list_knowledge_bases": {},
    "get_knowledge_base": KB,
    "list_data_sources": KB,
    "get_data_source": DS1,
    "start_ingestion_job": DS1,
    "get_ingestion_job": {**DS1, "ingestionJobId": "NOSUCHJOB0"},
    "list_ingestion_jobs": DS1,
    "stop_ingestion_job": {**DS1, "ingestionJobId": "NOSUCHJOB0"},
    "ingest_knowledge_base_documents": {**DS3, "documents": [DOCUMENT]},
    "get_knowledge_base_documents": {**DS3, "documentIdentifiers": [DOCUMENT_ID]},
    "list_knowledge_base_documents": DS3,
    "delete_knowledge_base_documents": {**DS3, "documentIdentifiers": [DOCUMENT_ID]},
}
NOT_FOUND_REQUESTS = {
    "get_knowledge_base": {"knowledgeBaseId": "NOSUCHKB00"},
    "list_data_sources": {"knowledgeBaseId": "NOSUCHKB00"},
    "get_data_source": {**KB, "dataSourceId": "NOSUCHDS00"},
    "start_ingestion_job": {**KB, "dataSourceId": "NOSUCHDS00"},
    "get_ingestion_job": {**DS1, "ingestionJobId": "NOSUCHJOB0"},
    "list_ingestion_jobs": {**KB, "dataSourceId": "NOSUCHDS00"},
    "stop_ingestion_job": {**DS1, "ingestionJobId": "NOSUCHJOB0"},
    "ingest_knowledge_base_documents": {**NO_DS, "documents": [DOCUMENT]},
    "get_knowledge_base_documents": {**NO_DS, "documentIdentifiers": [DOCUMENT_ID]},
    "list_knowledge_base_documents": NO_DS,
    "delete_knowledge_base_documents": {**NO_DS, "documentIdentifiers": [DOCUMENT_ID]},
}
INVALID_REQUESTS = {
    "list_knowledge_bases": {"maxResults": 5000},
    "get_knowledge_base": {"knowledgeBaseId": "bad"},
    "list_data_sources": {**KB, "nextToken": "forged"},
    "get_data_source": {**KB, "dataSourceId": "bad"},
    "start_ingestion_job": {**DS1, "description": "x" * 201},
    "get_ingestion_job": {**DS1, "ingestionJobId": "bad"},
    "list_ingestion_jobs": {**DS1, "sortBy": {"attribute": "NAME", "order": "ASCENDING"}},
    "stop_ingestion_job": {**DS1, "ingestionJobId": "bad"},
    "ingest_knowledge_base_documents": {**DS3, "documents": [DOCUMENT] * 11},
    "get_knowledge_base_documents": {
        **DS3,
        "documentIdentifiers": [{"dataSourceType": "S3", "s3": {"uri": "s3://b/k"}}],
    },
    "list_knowledge_base_documents": {**DS3, "maxResults": 5000},
    "delete_knowledge_base_documents": {**DS3, "documentIdentifiers": [DOCUMENT_ID] * 11},
}
ANY_OPERATION_ERRORS = ("AccessDeniedException", "ThrottlingException", "InternalServerException")
EXPECTED_OUTCOMES = (
    {(op, "OK") for op in VALID_REQUESTS}
    | {(op, code) for op in VALID_REQUESTS for code in ANY_OPERATION_ERRORS}
    | {(op, "ValidationException") for op in INVALID_REQUESTS}
    | {(op, "ResourceNotFoundException") for op in NOT_FOUND_REQUESTS}
    | {
        ("start_ingestion_job", "ConflictException"),
        ("start_ingestion_job", "ServiceQuotaExceededException"),
        ("stop_ingestion_job", "ConflictException"),
        ("delete_knowledge_base", "ValidationException"),
    }
)
JOB_STATUSES = set(MODEL.shape_for("IngestionJobStatus").enum)


def shape_violations(value, shape, path="$"):
    """Why `value` (decoded JSON) is not a valid `shape`; empty when it is."""
    kind = shape.type_name
    if kind == "structure":
        if shape.metadata.get("document"):
            return []
        if not isinstance(value, dict):
            return [f"{path}: {value!r} is not an object"]
        by_wire_name = {m.serialization.get("name", n): m for n, m in shape.members.items()}
        problems = [
            f"{path}: required member {name} is missing"
            for name in shape.required_members
            if shape.members[name].serialization.get("name", name) not in value
        ]
        if shape.metadata.get("union") and len(value) != 1:
            problems.append(f"{path}: a union must set exactly one member, not {len(value)}")
        for key, member_value in value.items():
            if key not in by_wire_name:
                problems.append(f"{path}.{key}: not a member of {shape.name}")
            else:
                problems += shape_violations(member_value, by_wire_name[key], f"{path}.{key}")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not a list"]
        problems = _range_violations(len(value), shape, f"{path} (length)")
        for index, item in enumerate(value):
            problems += shape_violations(item, shape.member, f"{path}[{index}]")
        return problems
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: {value!r} is not a map"]
        problems = []
        for key, item in value.items():
            problems += shape_violations(key, shape.key, f"{path} key {key!r}")
            problems += shape_violations(item, shape.value, f"{path}[{key!r}]")
        return problems
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: {value!r} is not a string"]
        problems = _range_violations(len(value), shape, f"{path} (length)")
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} is not one of {shape.enum}")
        pattern = shape.metadata.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            problems.append(f"{path}: {value!r} does not match {pattern}")
        return problems
    if kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{path}: {value!r} is not an integer"]
        return _range_violations(value, shape, path)
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: {value!r} is not a boolean"]
    if kind == "timestamp":
        if not isinstance(value, str) or not ISO_8601.fullmatch(value):
            return [f"{path}: {value!r} is not an ISO 8601 timestamp"]
        datetime.fromisoformat(value)  # raises if the date itself is impossible
        return []
    return [f"{path}: shape type {kind} is not checked by this test"]


def _range_violations(number, shape, path):
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if (low is not None and number < low) or (high is not None and number > high):
        return [f"{path}: {number} is outside [{low}, {high}]"]
    return []


def answer_violations(operation, status, headers, body):
    """Check one HTTP answer: status, error type header and body against the model."""
    if status < 300:
        expected = operation.http.get("responseCode", 200)
        problems = [] if status == expected else [f"status {status}, model says {expected}"]
        return problems + shape_violations(json.loads(body), operation.output_shape)
    code = headers.get("x-amzn-ErrorType", "")
    error_shapes = {shape.name: shape for shape in operation.error_shapes}
    if code not in error_shapes:
        return [f"{code!r} is not an error of {operation.name}"]
    shape = error_shapes[code]
    problems = shape_violations(json.loads(body), shape)
    if status != shape.metadata["error"]["httpStatusCode"]:
        problems.append(f"{code} answered with status {status}")
    return problems


class Recorder:
    """Keeps each raw answer a client receives, through botocore's before-parse event."""

    def __init__(self):
        self.answers = []

    def watch(self, client):
        client.meta.events.register("before-parse.bedrock-agent.*", self._keep)
        return client

    def _keep(self, operation_model, response_dict, **kwargs):
        self.answers.append(
            (
                operation_model,
                response_dict["status_code"],
                response_dict["headers"],
                response_dict["body"],
            )
        )


def tour(sb, recorder):
    """Make the sandbox give every answer it can give; returns the outcomes seen."""
    agent = recorder.watch(make_client("bedrock-agent", config=NO_RETRIES))
    denied = recorder.watch(
        make_client(
            "bedrock-agent", access_key_id=DENIED_ACCESS_KEY_PREFIX + "TOUR", config=NO_RETRIES
        )
    )
    outcomes = set()

    def call(client, name, **params):
        try:
            answer = getattr(client, name)(**params)
        except ClientError as error:
            outcomes.add((name, error.response["Error"]["Code"]))
            return None
        outcomes.add((name, "OK"))
        return answer

    def job_now(job):
        return call(agent, "get_ingestion_job", **{**KB, **_job_ids(job)})["ingestionJob"]

    for name, params in VALID_REQUESTS.items():
        call(denied, name, **params)
        for code in ("ThrottlingException", "InternalServerException"):
            sb.inject_fault(operation=_operation_name(name), error=code, count=1)
            call(agent, name, **params)
    for name, params in NOT_FOUND_REQUESTS.items():
        call(agent, name, **params)
    for name, params in INVALID_REQUESTS.items():
        call(agent, name, **params)
    call(agent, "delete_knowledge_base", **KB)

    call(agent, "list_knowledge_bases")
    call(agent, "list_knowledge_bases", maxResults=1)
    call(agent, "get_knowledge_base", **KB)
    call(agent, "list_data_sources", **KB, maxResults=1)
    call(agent, "get_data_source", **DS1)
    call(agent, "get_data_source", **DS2)
    for name in VALID_REQUESTS:
        if name.endswith("_knowledge_base_documents"):
            call(agent, name, **VALID_REQUESTS[name])

    sb.speed = 1
    job = call(agent, "start_ingestion_job", **DS1, description="tour")["ingestionJob"]
    statuses = {job_now(job)["status"]}  # STARTING
    call(agent, "start_ingestion_job", **DS1)  # conflict
    sb.speed = 100
    time.sleep(0.08)  # 8 of ~37 simulated seconds
    sb.speed = 1
    statuses.add(job_now(job)["status"])  # IN_PROGRESS
    call(agent, "stop_ingestion_job", **{**KB, **_job_ids(job)})
    statuses.add(job_now(job)["status"])  # STOPPING
    sb.finish_running_jobs()
    statuses.add(job_now(job)["status"])  # STOPPED
    call(agent, "stop_ingestion_job", **{**KB, **_job_ids(job)})  # conflict: already ended
    for params in (DS1, DS2):
        job = call(agent, "start_ingestion_job", **params)["ingestionJob"]
        sb.finish_running_jobs()
        statuses.add(job_now(job)["status"])  # COMPLETE, FAILED
    call(agent, "list_ingestion_jobs", **DS1, maxResults=1)
    call(agent, "list_ingestion_jobs", **DS2)
    call(
        agent,
        "list_ingestion_jobs",
        **DS1,
        filters=[{"attribute": "STATUS", "operator": "EQ", "values": ["STOPPED"]}],
        sortBy={"attribute": "STATUS", "order": "ASCENDING"},
    )

    for n in range(1, 5):
        sb.add_data_source(f"TOURSRC00{n}", {"doc.md": b"# Doc"})
    for params in [DS1, DS2] + [{**KB, "dataSourceId": f"TOURSRC00{n}"} for n in range(1, 5)]:
        call(agent, "start_ingestion_job", **params)  # the sixth is over the quota
    return outcomes, statuses


def _job_ids(job):
    return {"dataSourceId": job["dataSourceId"], "ingestionJobId": job["ingestionJobId"]}


def _operation_name(client_method):
    return "".join(part.title() for part in client_method.split("_"))


def test_every_answer_matches_the_botocore_model(sb):
    recorder = Recorder()
    outcomes, statuses = tour(sb, recorder)

    assert outcomes >= EXPECTED_OUTCOMES, EXPECTED_OUTCOMES - outcomes
    assert statuses == JOB_STATUSES
    violations = [
        f"{operation.name} {status}: {problem}"
        for operation, status, headers, body in recorder.answers
        for problem in answer_violations(operation, status, headers, body)
    ]
    assert violations == []
    assert len(recorder.answers) == len(sb.calls)


GOOD_JOB = {
    "knowledgeBaseId": "SANDBOXKB1",
    "dataSourceId": "SANDBOXDS1",
    "ingestionJobId": "ABCDEF1234",
    "status": "COMPLETE",
    "statistics": {"numberOfDocumentsScanned": 3},
    "startedAt": "2025-03-04T09:30:00.000Z",
    "updatedAt": "2025-03-04T09:31:00.000Z",
}


@pytest.mark.parametrize(
    "job",
    [
        {**GOOD_JOB, "surprise": 1},
        {key: value for key, value in GOOD_JOB.items() if key != "status"},
        {**GOOD_JOB, "status": "DONE"},
        {**GOOD_JOB, "statistics": {"numberOfDocumentsScanned": "3"}},
        {**GOOD_JOB, "statistics": {"numberOfDocumentsScanned": True}},
        {**GOOD_JOB, "startedAt": "yesterday"},
        {**GOOD_JOB, "ingestionJobId": "short"},
        {**GOOD_JOB, "failureReasons": "one reason"},
    ],
    ids=[
        "unknown-member",
        "missing-required",
        "bad-enum",
        "string-for-long",
        "boolean-for-long",
        "bad-timestamp",
        "bad-pattern",
        "string-for-list",
    ],
)
def test_the_shape_check_catches_what_botocore_would_not(job):
    operation = MODEL.operation_model("GetIngestionJob")
    assert answer_violations(operation, 200, {}, json.dumps({"ingestionJob": GOOD_JOB})) == []
    assert answer_violations(operation, 200, {}, json.dumps({"ingestionJob": job}))


def test_the_error_check_catches_wrong_status_and_unlisted_errors():
    operation = MODEL.operation_model("ListKnowledgeBases")
    body = json.dumps({"message": "no"})
    assert (
        answer_violations(operation, 429, {"x-amzn-ErrorType": "ThrottlingException"}, body) == []
    )
    assert answer_violations(operation, 400, {"x-amzn-ErrorType": "ThrottlingException"}, body)
    assert answer_violations(operation, 409, {"x-amzn-ErrorType": "ConflictException"}, body)
    assert answer_violations(
        operation, 429, {"x-amzn-ErrorType": "ThrottlingException"}, json.dumps({"msg": "no"})
    )
