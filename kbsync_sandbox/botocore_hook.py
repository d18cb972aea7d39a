"""The botocore `before-send` handler that answers bedrock-agent requests in-process.

botocore signs and serializes the request as for real AWS, then emits
`before-send.bedrock-agent.<Operation>`; the first handler returning a response wins and
no HTTP is sent. This handler parses the REST-JSON request back with the operation's model,
asks the simulation, and answers REST-JSON that botocore's real parser then reads.
Dispatching on the event name, not on the host, works whatever endpoint_url a client has.
"""

import json
import re
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from io import BytesIO
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ConnectionClosedError
from botocore.model import OperationModel

from .api import OPERATIONS, check_request_size
from .constants import DENIED_ACCESS_KEY_PREFIX, SANDBOX_ACCOUNT_ID
from .errors import ServiceError, validation_error
from .faults import FaultInjector
from .model import error_status, operation_model
from .state import BedrockAgentSimulation

EVENT_NAME = "before-send.bedrock-agent"
CALLS_KEPT = 10_000
# SigV4: "AWS4-HMAC-SHA256 Credential=<access key id>/<date>/<region>/<service>/aws4_request"
CREDENTIAL_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/")


class _RawBody(BytesIO):
    """What botocore reads a response body from (urllib3's response has the same stream())."""

    def stream(self, **kwargs):
        yield self.read()


@dataclass(frozen=True)
class CallRecord:
    """One bedrock-agent request as received: who sent it (User-Agent, access key id, never a
    secret, session token or signature) and what it asked."""

    operation: str
    parameters: dict
    user_agent: str | None
    access_key_id: str | None
    at: float  # unix time it arrived

    def as_json(self) -> dict:
        return {
            "operation": self.operation,
            "parameters": self.parameters,
            "userAgent": self.user_agent,
            "accessKeyId": self.access_key_id,
            "at": self.at,
        }


class BedrockAgentHook:
    def __init__(self, simulation: BedrockAgentSimulation, faults: FaultInjector):
        self._simulation = simulation
        self._faults = faults
        self._calls_lock = threading.Lock()
        # The newest calls only: a sandbox serving `make run` for days must not grow forever.
        self._calls: deque[CallRecord] = deque(maxlen=CALLS_KEPT)
        # Every call counted, beyond the newest kept: "no record sent twice" over a long run.
        self._counts: Counter[str] = Counter()
        self.stopped = False

    @property
    def calls(self) -> list[tuple[str, dict]]:
        with self._calls_lock:
            return [(call.operation, call.parameters) for call in self._calls]

    @property
    def call_log(self) -> list[CallRecord]:
        with self._calls_lock:
            return list(self._calls)

    @property
    def call_counts(self) -> dict[str, int]:
        with self._calls_lock:
            return dict(self._counts)

    def clear_calls(self) -> None:
        with self._calls_lock:
            self._calls.clear()
            self._counts.clear()

    def __call__(
        self, event_name: str, request: AWSPreparedRequest, **kwargs
    ) -> AWSResponse | None:
        service, _, operation = event_name.removeprefix("before-send.").partition(".")
        if service != "bedrock-agent":
            return None
        if self.stopped:
            # Fail loudly rather than let a client kept from a stopped sandbox reach real AWS.
            raise RuntimeError(
                "This bedrock-agent client was created inside a kbsync sandbox that has "
                "stopped. Create clients inside the running sandbox."
            )
        arrived = time.time()
        model = operation_model(operation)
        params = request_parameters(model, request)
        call = CallRecord(
            operation,
            params,
            _header(request, "User-Agent"),
            _access_key_id(request),
            arrived,
        )
        with self._calls_lock:
            self._calls.append(call)
            self._counts[operation] += 1

        fault = self._faults.take(operation)
        if fault is None:
            return self._answer(operation, model, request, params)
        if fault.close_connection:
            time.sleep(fault.latency_seconds)  # real seconds: it stands for a slow network
            raise _connection_closed(request)
        if fault.lost_answer:
            self._answer(operation, model, request, params)  # done, whatever it answered
            time.sleep(fault.latency_seconds)
            if fault.error is None:
                raise _connection_closed(request)
            return _error_response(request, fault.error, fault.status, _injected(fault.error))
        time.sleep(fault.latency_seconds)
        if fault.error is not None:
            return _error_response(request, fault.error, fault.status, _injected(fault.error))
        return self._answer(operation, model, request, params)

    def _answer(
        self,
        operation: str,
        model: OperationModel,
        request: AWSPreparedRequest,
        params: dict,
    ) -> AWSResponse:
        """Do what the request asks, as AWS would."""
        try:
            region = _authorized_region(operation, request)
            handler = OPERATIONS.get(operation)
            if handler is None:
                raise validation_error(f"The kbsync sandbox does not simulate {operation}.")
            body = request.body or b""
            check_request_size(operation, len(body.encode() if isinstance(body, str) else body))
            body = handler(self._simulation, region, params)
        except ServiceError as error:
            return _error_response(request, error.code, error_status(error.code), error.message)
        return _response(request, model.http.get("responseCode", 200), body, {})


def _injected(error: str) -> str:
    return f"{error} injected by the kbsync sandbox."


def _connection_closed(request: AWSPreparedRequest) -> ConnectionClosedError:
    """What botocore raises when the server closes the connection without an answer.

    botocore's Endpoint emits before-send inside the same `try` as its HTTP send, so this
    exception, raised by a before-send handler, is retried or raised exactly as one from a
    real dropped connection. The HTTP server closes its socket when it sees it.
    """
    return ConnectionClosedError(endpoint_url=request.url)


def _header(request: AWSPreparedRequest, name: str) -> str | None:
    value = request.headers.get(name)
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value


def _access_key_id(request: AWSPreparedRequest) -> str | None:
    """The access key id of the request's SigV4 signature: an identifier, not a secret (AWS
    itself logs it in CloudTrail). The rest of the Authorization header is never kept."""
    scope = CREDENTIAL_SCOPE.search(_header(request, "Authorization") or "")
    return scope.group(1) if scope is not None else None


def _authorized_region(operation: str, request: AWSPreparedRequest) -> str:
    """The region the request was signed for; raises AccessDenied for the denied keys.

    The access key id is kept only in the call log (CallRecord), never in an answer.
    """
    scope = CREDENTIAL_SCOPE.search(_header(request, "Authorization") or "")
    if scope is None:
        raise ServiceError("AccessDeniedException", "Missing Authentication Token")
    if scope.group(1).startswith(DENIED_ACCESS_KEY_PREFIX):
        raise ServiceError(
            "AccessDeniedException",
            f"User: arn:aws:sts::{SANDBOX_ACCOUNT_ID}:assumed-role/kbsync-sandbox-denied/session "
            f"is not authorized to perform: bedrock:{operation} because no identity-based "
            f"policy allows the bedrock:{operation} action",
        )
    return scope.group(2)


def request_parameters(model: OperationModel, request: AWSPreparedRequest) -> dict:
    """The request's input parameters, named as in the operation's input shape."""
    url = urlsplit(request.url)
    params: dict = {}
    shape = model.input_shape
    if shape is None:
        return params
    path = _path_pattern(model.http["requestUri"]).search(url.path)
    query = parse_qs(url.query)
    for member_name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", member_name)
        if location == "uri" and path is not None:
            params[member_name] = unquote(path.group(_group_name(wire_name)))
        elif location == "querystring" and wire_name in query:
            values = query[wire_name]
            if member.type_name == "list":
                params[member_name] = values
            elif member.type_name in ("integer", "long"):
                params[member_name] = int(values[0])
            elif member.type_name == "boolean":
                params[member_name] = values[0] == "true"
            else:
                params[member_name] = values[0]
    body = request.body
    if body:
        params.update(json.loads(body))
    return params


@cache
def _path_pattern(request_uri: str) -> re.Pattern:
    """A regex for requestUri ("/a/{id}/b/{key+}"), anchored at the end so that an
    endpoint_url with a path prefix still matches."""
    template = request_uri.split("?")[0]
    pattern = ""
    for literal, label in re.findall(r"([^{]*)(?:\{([^}]+)\})?", template):
        pattern += re.escape(literal)
        if label.endswith("+"):
            pattern += f"(?P<{_group_name(label[:-1])}>.+)"
        elif label:
            pattern += f"(?P<{_group_name(label)}>[^/]+)"
    return re.compile(pattern + "$")


def _group_name(label: str) -> str:
    return re.sub(r"\W", "_", label)


def _timestamp(value: object) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _response(request: AWSPreparedRequest, status: int, body: dict, headers: dict) -> AWSResponse:
    headers = {
        "Content-Type": "application/json",
        "x-amzn-RequestId": str(uuid.uuid4()),
        **headers,
    }
    raw = _RawBody(json.dumps(body, default=_timestamp).encode())
    return AWSResponse(request.url, status, headers, raw)


def _error_response(
    request: AWSPreparedRequest, code: str, status: int | None, message: str
) -> AWSResponse:
    return _response(request, status or 400, {"message": message}, {"x-amzn-ErrorType": code})
