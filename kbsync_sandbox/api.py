"""The bedrock-agent operations the sandbox serves: input checks, filters, sorting, paging.

Each handler takes the simulation, the request's region and its parameters (named as in
botocore's input shape) and returns the operation's output shape as a dict.
"""

import base64
import re
from collections.abc import Callable

from . import documents
from .errors import ServiceError, validation_error
from .model import operation_model
from .state import BedrockAgentSimulation
from .validation import check_input

ID_PATTERN = "[0-9a-zA-Z]{10}"
CLIENT_TOKEN_PATTERN = "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,256}"  # noqa: S105 - a regex
CLIENT_TOKEN_LENGTH = (33, 256)
DESCRIPTION_LENGTH = (1, 200)
MAX_RESULTS_RANGE = (1, 1000)
# Bedrock documents no default page size; serving everything up to the maximum is the
# least surprising choice.
DEFAULT_MAX_RESULTS = 1000
SORT_ATTRIBUTES = ("STATUS", "STARTED_AT")
SORT_ORDERS = ("ASCENDING", "DESCENDING")
# Newest first, the order the Bedrock console shows a data source's sync history in.
DEFAULT_SORT = {"attribute": "STARTED_AT", "order": "DESCENDING"}
PAGE_CURSOR_PREFIX = "kbsync-sandbox-offset:"


def _constraint_error(field: str, value: object, constraint: str) -> ServiceError:
    return validation_error(
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
        f"constraint: Member must {constraint}"
    )


def _ids(params: dict, *fields: str) -> list[str]:
    for field in fields:
        if not re.fullmatch(ID_PATTERN, params[field]):
            raise _constraint_error(
                field, params[field], f"satisfy regular expression pattern: {ID_PATTERN}"
            )
    return [params[field] for field in fields]


def _optional_string(params: dict, field: str, length: tuple[int, int], pattern: str = ".*"):
    value = params.get(field)
    if value is None:
        return None
    if not length[0] <= len(value) <= length[1]:
        raise _constraint_error(
            field, value, f"have length between {length[0]} and {length[1]}, inclusive"
        )
    if not re.fullmatch(pattern, value):
        raise _constraint_error(field, value, f"satisfy regular expression pattern: {pattern}")
    return value


def _page(items: list[dict], params: dict, result_key: str) -> dict:
    max_results = params.get("maxResults", DEFAULT_MAX_RESULTS)
    low, high = MAX_RESULTS_RANGE
    if not isinstance(max_results, int) or not low <= max_results <= high:
        raise _constraint_error(
            "maxResults", max_results, f"have value between {low} and {high}, inclusive"
        )
    offset = _offset_from_token(params.get("nextToken"))
    page = {result_key: items[offset : offset + max_results]}
    if offset + max_results < len(items):
        token = PAGE_CURSOR_PREFIX + str(offset + max_results)
        page["nextToken"] = base64.urlsafe_b64encode(token.encode()).decode()
    return page


def _offset_from_token(token: str | None) -> int:
    if token is None:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(token.encode()).decode()
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        decoded = ""
    offset = decoded.removeprefix(PAGE_CURSOR_PREFIX)
    if offset == decoded or not (offset.isascii() and offset.isdigit()):
        raise validation_error("The nextToken is not valid. Use a nextToken from a response.")
    return int(offset)


def list_knowledge_bases(simulation: BedrockAgentSimulation, region: str, params: dict) -> dict:
    summaries = simulation.knowledge_base_summaries(region)
    return _page(summaries, params, "knowledgeBaseSummaries")


def get_knowledge_base(simulation: BedrockAgentSimulation, region: str, params: dict) -> dict:
    (knowledge_base_id,) = _ids(params, "knowledgeBaseId")
    return {"knowledgeBase": simulation.knowledge_base(region, knowledge_base_id)}


def list_data_sources(simulation: BedrockAgentSimulation, region: str, params: dict) -> dict:
    (knowledge_base_id,) = _ids(params, "knowledgeBaseId")
    summaries = simulation.data_source_summaries(region, knowledge_base_id)
    return _page(summaries, params, "dataSourceSummaries")


def get_data_source(simulation: BedrockAgentSimulation, region: str, params: dict) -> dict:
    ids = _ids(params, "knowledgeBaseId", "dataSourceId")
    return {"dataSource": simulation.data_source(region, *ids)}


def start_ingestion_job(simulation: BedrockAgentSimulation, region: str, params: dict) -> dict:
    ids = _ids(params, "knowledgeBaseId", "dataSourceId")
    client_token = _optional_string(
        params, "clientToken", CLIENT_TOKEN_LENGTH, CLIENT_TOKEN_PATTERN
    )
    description = _optional_string(params, "description", DESCRIPTION_LENGTH)
    job = simulation.start_ingestion_job(region, *ids, client_token, description)
    return {"ingestionJob": job}


def get_ingestion_job(simulation: BedrockAgentSimulation, region: str, params: dict) -> dict:
    ids = _ids(params, "knowledgeBaseId", "dataSourceId", "ingestionJobId")
    return {"ingestionJob": simulation.ingestion_job(region, *ids)}


def stop_ingestion_job(simulation: BedrockAgentSimulation, region: str, params: dict) -> dict:
    ids = _ids(params, "knowledgeBaseId", "dataSourceId", "ingestionJobId")
    return {"ingestionJob": simulation.stop_ingestion_job(region, *ids)}


def list_ingestion_jobs(simulation: BedrockAgentSimulation, region: str, params: dict) -> dict:
    ids = _ids(params, "knowledgeBaseId", "dataSourceId")
    statuses = _status_filter(params.get("filters"))
    sort = params.get("sortBy", DEFAULT_SORT)
    if sort.get("attribute") not in SORT_ATTRIBUTES:
        raise _constraint_error(
            "sortBy.attribute", sort.get("attribute"), f"satisfy enum value set: {SORT_ATTRIBUTES}"
        )
    if sort.get("order") not in SORT_ORDERS:
        raise _constraint_error(
            "sortBy.order", sort.get("order"), f"satisfy enum value set: {SORT_ORDERS}"
        )
    summaries = simulation.ingestion_job_summaries(region, *ids)  # oldest first
    if statuses is not None:
        summaries = [summary for summary in summaries if summary["status"] in statuses]
    if sort["attribute"] == "STATUS":
        # Python's sort is stable: equal statuses stay in start order.
        summaries.sort(key=lambda summary: summary["status"])
    if sort["order"] == "DESCENDING":
        summaries.reverse()
    return _page(summaries, params, "ingestionJobSummaries")


def _status_filter(filters: list[dict] | None) -> set[str] | None:
    if filters is None:
        return None
    if len(filters) != 1:
        raise _constraint_error("filters", filters, "have length between 1 and 1, inclusive")
    (only,) = filters
    if only.get("attribute") != "STATUS":
        raise _constraint_error(
            "filters.1.member.attribute", only.get("attribute"), "satisfy enum value set: [STATUS]"
        )
    if only.get("operator") != "EQ":
        raise _constraint_error(
            "filters.1.member.operator", only.get("operator"), "satisfy enum value set: [EQ]"
        )
    return set(only.get("values", []))


# Documents ingested directly (documents.py): each input checked whole against the model.


def check_request_size(operation: str, body_bytes: int) -> None:
    """IngestKnowledgeBaseDocuments' quota on the request's total payload (read at call time,
    so a test can lower documents.MAX_REQUEST_BYTES)."""
    limit = documents.MAX_REQUEST_BYTES
    if operation == "IngestKnowledgeBaseDocuments" and body_bytes > limit:
        raise validation_error(
            f"The request is {body_bytes} bytes, over the {limit}-byte quota for the total "
            "payload of an IngestKnowledgeBaseDocuments request. Send fewer or smaller "
            "documents per request."
        )


def _document_request(simulation: BedrockAgentSimulation, operation: str, params: dict):
    simulation.documents.admit(operation)  # a throttled request is not even looked at
    check_input(operation_model(operation).input_shape, params)
    return params["knowledgeBaseId"], params["dataSourceId"]


def ingest_knowledge_base_documents(
    simulation: BedrockAgentSimulation, region: str, params: dict
) -> dict:
    ids = _document_request(simulation, "IngestKnowledgeBaseDocuments", params)
    details = simulation.ingest_documents(
        region, *ids, params["documents"], params.get("clientToken")
    )
    return {"documentDetails": details}


def get_knowledge_base_documents(
    simulation: BedrockAgentSimulation, region: str, params: dict
) -> dict:
    ids = _document_request(simulation, "GetKnowledgeBaseDocuments", params)
    return {
        "documentDetails": simulation.document_details(region, *ids, params["documentIdentifiers"])
    }


def delete_knowledge_base_documents(
    simulation: BedrockAgentSimulation, region: str, params: dict
) -> dict:
    ids = _document_request(simulation, "DeleteKnowledgeBaseDocuments", params)
    details = simulation.delete_documents(
        region, *ids, params["documentIdentifiers"], params.get("clientToken")
    )
    return {"documentDetails": details}


def list_knowledge_base_documents(
    simulation: BedrockAgentSimulation, region: str, params: dict
) -> dict:
    ids = _document_request(simulation, "ListKnowledgeBaseDocuments", params)
    return _page(simulation.listed_documents(region, *ids), params, "documentDetails")


OPERATIONS: dict[str, Callable[[BedrockAgentSimulation, str, dict], dict]] = {
    "ListKnowledgeBases": list_knowledge_bases,
    "GetKnowledgeBase": get_knowledge_base,
    "ListDataSources": list_data_sources,
    "GetDataSource": get_data_source,
    "StartIngestionJob": start_ingestion_job,
    "GetIngestionJob": get_ingestion_job,
    "ListIngestionJobs": list_ingestion_jobs,
    "StopIngestionJob": stop_ingestion_job,
    "IngestKnowledgeBaseDocuments": ingest_knowledge_base_documents,
    "GetKnowledgeBaseDocuments": get_knowledge_base_documents,
    "DeleteKnowledgeBaseDocuments": delete_knowledge_base_documents,
    "ListKnowledgeBaseDocuments": list_knowledge_base_documents,
}
