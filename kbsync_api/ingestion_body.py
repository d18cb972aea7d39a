"""The body of POST /api/v2/data-ingestion/jobs, read off the wire: JSON, or multipart/form-data
with `adapterType`, `knowledgeBaseId` (+ `dataSourceId`, `force`) text fields and a `data` file
or text field holding JSON (seed 002).

Any body over 30 MB is a 413, counted as it arrives (as routes.read_json_body does for the other
endpoints' 1 MB): a client that declares no length, or a false one, cannot make the server hold
more. A multipart `data` file is streamed to a spooled temporary file (on disk past 1 MB), and
each payload is parsed once, in the thread pool: a 30 MB parse would stall every console
session sharing the event loop.
"""

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request

from kbsync_api import contract as api
from kbsync_api import ingestion

MULTIPART_MEDIA_TYPE = "multipart/form-data"
# adapterType, knowledgeBaseId, dataSourceId, force, data: a few more are ignored, not refused.
MAX_FIELDS = 20
MAX_FILES = 1  # only `data` may be a file


async def read_job_fields(request: Request) -> Mapping[str, Any]:
    """The job's fields (`data` already parsed); IngestionRequestError (415, 413, 400) when the
    body cannot hold a job."""
    content_type = request.headers.get("content-type")
    _check_declared_length(request.headers.get("content-length"))
    if api.is_json_media_type(content_type):
        raw = await _read_counted(request)
        return ingestion.job_fields(await run_in_threadpool(_parse_json, raw))
    if _media_type(content_type) == MULTIPART_MEDIA_TYPE:
        return await _read_multipart(request)
    raise ingestion.refuse(415, ingestion.MEDIA_TYPE_UNSUPPORTED)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _check_declared_length(content_length: str | None) -> None:
    """Refuse early a body declared too large; the reader still counts what really arrives."""
    declared = (content_length or "").strip()
    if declared.isascii() and declared.isdigit() and int(declared) > ingestion.MAX_UPLOAD_BYTES:
        raise ingestion.refuse(413, ingestion.BODY_TOO_LARGE)


async def _counted(request: Request) -> AsyncIterator[bytes]:
    """The body's chunks; a 413 as soon as they pass the limit, a 400 if the client leaves."""
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > ingestion.MAX_UPLOAD_BYTES:
                raise ingestion.refuse(413, ingestion.BODY_TOO_LARGE)
            yield chunk
    except ClientDisconnect:
        raise ingestion.refuse(400, ingestion.BODY_INCOMPLETE) from None


async def _read_counted(request: Request) -> bytearray:
    # One growing buffer: a list of chunks joined at the end would hold the body twice.
    buffer = bytearray()
    async for chunk in _counted(request):
        buffer += chunk
    return buffer


def _parse_json(raw: bytes | bytearray | str) -> Any:
    try:
        return json.loads(raw)
    # ValueError: bad JSON, bad UTF-8, over-long integers; RecursionError: nested too deep.
    except (ValueError, RecursionError):
        raise ingestion.refuse(400, ingestion.BODY_NOT_JSON) from None


def _parse_data(data: Any) -> Any:
    """A multipart `data`: a file (read from its spooled copy) or a text field, holding JSON."""
    try:
        if isinstance(data, UploadFile):
            data.file.seek(0)
            return json.load(data.file)
        return json.loads(data)
    except (ValueError, RecursionError):
        raise ingestion.refuse(400, ingestion.DATA_NOT_JSON) from None


async def _read_multipart(request: Request) -> Mapping[str, Any]:
    parser = MultiPartParser(
        request.headers,
        _counted(request),
        max_files=MAX_FILES,
        max_fields=MAX_FIELDS,
        # A text `data` may be as large as a file: the body's limit is the one that counts.
        max_part_size=ingestion.MAX_UPLOAD_BYTES,
    )
    try:
        form = await parser.parse()
    except MultiPartException as error:
        raise ingestion.refuse(
            400, ingestion.MULTIPART_INVALID.format(reason=error.message)
        ) from None
    try:
        fields: dict[str, Any] = {name: value for name, value in form.items()}
        data = fields.get("data")
        if isinstance(data, UploadFile) or (isinstance(data, str) and data != ""):
            fields["data"] = await run_in_threadpool(_parse_data, data)
        return fields
    finally:
        await form.close()
