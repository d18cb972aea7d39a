"""The sandbox's bedrock-agent over real HTTP, in a process of its own.

    python -m kbsync_sandbox.server --port 8600 [--speed 20]
    KBSYNC_BACKEND=aws AWS_ENDPOINT_URL_BEDROCK_AGENT=http://127.0.0.1:8600 streamlit run app.py

The in-process sandbox dies with the process that runs it; this one outlives a kbsync process,
so a test can kill kbsync mid-sync and find the job where AWS would have left it. Each HTTP
request is routed to its operation by method and path (botocore's requestUri for every
bedrock-agent operation), rebuilt as the prepared request botocore would have sent, and handed to
the sandbox's before-send handler, whose response is written back as it is.

Paths outside AWS's API let a test drive the sandbox as the in-process Sandbox's methods do
(moto serves its own /moto-api/ the same way). All answer JSON; a bad request answers 400
with {"message": <what is wrong>}.

    PUT    /_kbsync_sandbox/speed                {"speed": 50}     -> 200 {"speed": 50.0}
    POST   /_kbsync_sandbox/finish-running-jobs                    -> 200 {"speed": ...}

    POST   /_kbsync_sandbox/faults    -> 201 the fault, as below plus its "id"
        {"operation": "GetIngestionJob" | null,   null (or absent): any operation
         "error": "ThrottlingException" | null,   an AWS error code answered...
         "status": 429 | null,                    ...with this HTTP status (one of the two
                                                  gives the other from botocore's model; an
                                                  error the model lacks needs its status)
         "latencySeconds": 0,                     real seconds waited before answering
         "lostAnswer": false,                     the work is done, then the answer is lost:
                                                  the error above if any, else the connection
                                                  is closed without an answer
         "closeConnection": false,                closed without an answer, work not done
         "probability": 1.0,                      0 < p <= 1: chance a matching request is hit
         "count": 3 | null,                       requests hit before it ends; null: until
                                                  cleared
         "seed": 7 | null}                        seeds the fault's random.Random
        Every field is optional, but a fault must do something.
    GET    /_kbsync_sandbox/faults    -> 200 {"faults": [...]}, those still in force
    DELETE /_kbsync_sandbox/faults    -> 200 {"faults": []}

    GET    /_kbsync_sandbox/calls[?operation=GetIngestionJob]
        -> 200 {"calls": [{"operation": ..., "parameters": {...}, "userAgent": <User-Agent>,
                           "accessKeyId": <of the SigV4 signature>, "at": <unix time>}]}
        the newest 10,000 bedrock-agent requests, oldest first, faults and errors included;
        never a secret key, session token or signature
    GET    /_kbsync_sandbox/call-counts
        -> 200 {"counts": {"IngestKnowledgeBaseDocuments": 50, ...}}
        every bedrock-agent request received per operation (not only the newest 10,000)
    DELETE /_kbsync_sandbox/calls     -> 200 {"calls": []}, the counts emptied too

    GET    /_kbsync_sandbox/documents[?dataSourceId=SANDBOXDS3]
        -> 200 {"documents": [{"dataSourceType": "CUSTOM", "id": ..., "status": "INDEXED",
                               "statusReason": null, "content": <text>, "byteContent": null,
                               "mimeType": "text/plain", "attributes": {...},
                               "ingestions": 1}]}
        what IngestKnowledgeBaseDocuments put into the data source (SANDBOXDS3 by default),
        in first-ingestion order, deleted ones included (status NOT_FOUND); the finish-running-
        jobs control also brings these documents to their end state

A closed connection is really closed: no response is written and the socket is shut down, so
a botocore client raises ConnectionClosedError (or ReadTimeoutError if its read timeout ends
first, as with a lostAnswer whose latencySeconds outlasts it).

STS requests (signed for the `sts` service: point AWS_ENDPOINT_URL_STS here too) are answered
by moto's STS, so a connection with a role credential source assumes it here.

It listens on 127.0.0.1 only: it accepts any credentials, so it is no service to expose.
"""

import argparse
import contextlib
import json
import re
import signal
import socket
import sys
from functools import cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ConnectionClosedError

from .botocore_hook import _path_pattern
from .constants import SANDBOX_CUSTOM_DATA_SOURCE_ID
from .environment import Sandbox
from .faults import is_finite_number
from .model import SERVICE_MODEL

DEFAULT_HOST = "127.0.0.1"
SERVICE = "bedrock-agent"
# What botocore's parser reads an unroutable request's answer as.
UNKNOWN_OPERATION = "UnknownOperationException"
BAD_REQUEST = "SerializationException"
INTERNAL_FAILURE = "InternalServerException"
CONTROL_PREFIX = "/_kbsync_sandbox/"
# STS requests (AWS_ENDPOINT_URL_STS pointing here) go to moto's STS, as at this URL.
STS_URL = "https://sts.amazonaws.com/"
# SigV4's credential scope: <key>/<date>/<region>/<service>/aws4_request
CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/,\s]+)/")
# POST /_kbsync_sandbox/faults: body field -> (Sandbox.inject_fault keyword, what it takes).
FAULT_FIELDS = {
    "operation": ("operation", "an operation name or null"),
    "error": ("error", "an error code or null"),
    "status": ("status", "an HTTP status or null"),
    "probability": ("probability", "a number"),
    "latencySeconds": ("latency_seconds", "a number of seconds"),
    "count": ("count", "a whole number or null"),
    "lostAnswer": ("lost_answer", "true or false"),
    "closeConnection": ("close_connection", "true or false"),
    "seed": ("seed", "a whole number or null"),
}


class BadControlRequest(ValueError):
    """A control request the sandbox cannot follow; its message says why."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _field_fits(name: str, value: object) -> bool:
    if name in ("operation", "error"):
        return value is None or isinstance(value, str)
    if name in ("status", "count", "seed"):
        return value is None or _is_int(value)
    if name in ("probability", "latencySeconds"):
        return is_finite_number(value)
    return isinstance(value, bool)


def fault_arguments(body: bytes) -> dict:
    """Sandbox.inject_fault's keyword arguments for a POST /_kbsync_sandbox/faults body."""
    try:
        fields = json.loads(body) if body else None
    except ValueError:
        raise BadControlRequest("The body is not valid JSON.") from None
    if not isinstance(fields, dict):
        raise BadControlRequest(
            'Send a JSON object, e.g. {"operation": "GetIngestionJob", '
            '"error": "ThrottlingException", "count": 3}.'
        )
    unknown = sorted(set(fields) - set(FAULT_FIELDS))
    if unknown:
        raise BadControlRequest(
            f"Unknown field(s) {', '.join(unknown)}; a fault has {', '.join(FAULT_FIELDS)}."
        )
    arguments = {}
    for name, value in fields.items():
        keyword, expected = FAULT_FIELDS[name]
        if not _field_fits(name, value):
            raise BadControlRequest(f"{name} must be {expected}, not {json.dumps(value)}.")
        arguments[keyword] = value
    return arguments


def _http_names(message: str) -> str:
    """A message about inject_fault's keywords, in the HTTP body's field names."""
    for name, (keyword, _expected) in FAULT_FIELDS.items():
        message = message.replace(keyword, name)
    return message


@cache
def _routes() -> list[tuple[str, re.Pattern, str]]:
    """(HTTP method, full-path regex, operation) for every bedrock-agent operation, the most
    literal paths first, so that `/datasources/` is not taken for a `{dataSourceId}`."""
    routes = []
    for name in SERVICE_MODEL.operation_names:
        http = SERVICE_MODEL.operation_model(name).http
        template = http["requestUri"].split("?")[0]
        literal_length = len(re.sub(r"\{[^}]+\}", "", template))
        routes.append((literal_length, http["method"], _path_pattern(http["requestUri"]), name))
    routes.sort(key=lambda route: -route[0])
    return [(method, pattern, name) for _, method, pattern, name in routes]


def operation_for(method: str, path: str) -> str | None:
    """The bedrock-agent operation a request's method and path (no query) stand for."""
    for route_method, pattern, name in _routes():
        if route_method == method and pattern.fullmatch(path):
            return name
    return None


class SandboxHttpHandler(BaseHTTPRequestHandler):
    """Answers bedrock-agent requests through the running sandbox's before-send handler."""

    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    # Headers and body go out in two writes: with Nagle's algorithm the body waited for the
    # client's delayed ACK of the headers, ~40 ms per request.
    disable_nagle_algorithm = True
    server: "SandboxHttpServer"

    def do_request(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        if path.startswith(CONTROL_PREFIX):
            try:
                status, answer = self._control(path.removeprefix(CONTROL_PREFIX), query, body)
            except BadControlRequest as error:
                self._send_error(HTTPStatus.BAD_REQUEST, BAD_REQUEST, str(error))
                return
            if status == HTTPStatus.NOT_FOUND:
                message = f"No sandbox control answers {self.command} {path}."
                self._send_error(HTTPStatus.NOT_FOUND, UNKNOWN_OPERATION, message)
                return
            self._send(status, {"Content-Type": "application/json"}, json.dumps(answer).encode())
            return
        sts_action = _sts_action(self.command, self.headers, body)
        if sts_action is not None:
            self._answer_sts(sts_action, body)
            return
        operation = operation_for(self.command, path)
        if operation is None:
            message = f"No bedrock-agent operation answers {self.command} {path}."
            self._send_error(HTTPStatus.NOT_FOUND, UNKNOWN_OPERATION, message)
            return
        request = AWSPreparedRequest(
            self.command, f"http://{self.headers.get('Host', DEFAULT_HOST)}{self.path}",
            self.headers, body, stream_output=False,
        )
        try:
            response = self.server.answer(operation, request)
        except ConnectionClosedError:  # an injected fault: no answer at all
            self._close_without_answer()
            return
        except ValueError:  # a body that is not JSON
            self._send_error(HTTPStatus.BAD_REQUEST, BAD_REQUEST, "The body is not valid JSON.")
            return
        except Exception as error:
            self._send_error(
                HTTPStatus.INTERNAL_SERVER_ERROR, INTERNAL_FAILURE, type(error).__name__
            )
            return
        self._send(response.status_code, dict(response.headers), response.content)

    def _answer_sts(self, action: str, body: bytes) -> None:
        """An STS request (AssumeRole, GetCallerIdentity...), answered by moto's STS."""
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        request = AWSPreparedRequest(
            "POST", STS_URL, headers, body, stream_output=False,
        )
        try:
            response = self.server.answer_sts(action, request)
        except Exception as error:
            self._send_error(
                HTTPStatus.INTERNAL_SERVER_ERROR, INTERNAL_FAILURE, type(error).__name__
            )
            return
        self._send(response.status_code, dict(response.headers), response.content)

    def _control(self, action: str, query: str, body: bytes) -> tuple[int, dict | None]:
        """(status, JSON answer) of a control request; raises BadControlRequest."""
        sandbox = self.server.sandbox
        request = (self.command, action)
        if request == ("POST", "finish-running-jobs"):
            sandbox.finish_running_jobs()
            return HTTPStatus.OK, {"speed": sandbox.speed}
        if request == ("PUT", "speed"):
            try:
                sandbox.speed = float(json.loads(body)["speed"])
            except (ValueError, TypeError, KeyError):
                raise BadControlRequest(
                    'Send {"speed": <simulated seconds per real second, above 0>}.'
                ) from None
            return HTTPStatus.OK, {"speed": sandbox.speed}
        if request == ("POST", "faults"):
            arguments = fault_arguments(body)
            try:
                fault = sandbox.inject_fault(**arguments)
            except ValueError as error:
                raise BadControlRequest(_http_names(str(error))) from None
            return HTTPStatus.CREATED, fault.as_json()
        if request == ("GET", "faults"):
            return HTTPStatus.OK, {"faults": [fault.as_json() for fault in sandbox.faults]}
        if request == ("DELETE", "faults"):
            sandbox.clear_faults()
            return HTTPStatus.OK, {"faults": []}
        if request == ("GET", "calls"):
            operation = _operation_filter(query)
            calls = [
                call.as_json()
                for call in sandbox.call_log
                if operation is None or call.operation == operation
            ]
            return HTTPStatus.OK, {"calls": calls}
        if request == ("DELETE", "calls"):
            sandbox.clear_calls()
            return HTTPStatus.OK, {"calls": []}
        if request == ("GET", "call-counts"):
            _only_parameters(query, set())
            return HTTPStatus.OK, {"counts": sandbox.call_counts}
        if request == ("GET", "documents"):
            parameters = _only_parameters(query, {"dataSourceId"})
            data_source_id = parameters.get("dataSourceId", SANDBOX_CUSTOM_DATA_SOURCE_ID)
            try:
                return HTTPStatus.OK, {"documents": sandbox.documents(data_source_id)}
            except ValueError as error:
                raise BadControlRequest(str(error)) from None
        return HTTPStatus.NOT_FOUND, None

    def _close_without_answer(self) -> None:
        """End the connection with no response at all, as a dropped connection does."""
        self.close_connection = True  # no next request on this keep-alive connection
        with contextlib.suppress(OSError):  # the client may have gone first
            self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_request

    def _send_error(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"message": message}).encode()
        self._send(status, {"Content-Type": "application/json", "x-amzn-ErrorType": code}, body)

    def _send(self, status: int, headers: dict, body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


def _sts_action(method: str, headers, body: bytes) -> str | None:
    """The STS action of a request signed for the `sts` service; None for any other."""
    scope = CREDENTIAL_SCOPE.search(headers.get("Authorization") or "")
    if method != "POST" or scope is None or scope.group(1) != "sts":
        return None
    actions = parse_qs(body.decode("utf-8", "replace")).get("Action") or [""]
    return actions[0] or None


def _only_parameters(query: str, allowed: set[str]) -> dict[str, str]:
    """The query's parameters, each given once; BadControlRequest for any other."""
    parameters = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(parameters) - allowed)
    if unknown:
        raise BadControlRequest(
            f"Unknown query parameter(s) {', '.join(unknown)}; "
            f"only {', '.join(sorted(allowed)) or 'none'}."
        )
    if any(len(values) != 1 for values in parameters.values()):
        raise BadControlRequest("Give each query parameter once.")
    return {name: values[0] for name, values in parameters.items()}


def _operation_filter(query: str) -> str | None:
    """The `operation` of GET /_kbsync_sandbox/calls?operation=..., None if absent."""
    parameters = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(parameters) - {"operation"})
    if unknown:
        raise BadControlRequest(f"Unknown query parameter(s) {', '.join(unknown)}; only operation.")
    values = parameters.get("operation")
    if values is None:
        return None
    if len(values) != 1 or values[0] not in SERVICE_MODEL.operation_names:
        raise BadControlRequest(
            f"operation must be one bedrock-agent operation (e.g. GetIngestionJob), not {values}."
        )
    return values[0]


class SandboxHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox, verbose: bool = False):
        super().__init__(address, SandboxHttpHandler)
        self.sandbox = sandbox
        self.verbose = verbose
        # A session made while the sandbox runs carries its before-send handler, as a boto3
        # client would: emitting the event it listens on asks the sandbox to answer.
        self._events = botocore.session.Session()

    def answer(self, operation: str, request: AWSPreparedRequest) -> AWSResponse:
        _handler, response = self._events.get_component("event_emitter").emit_until_response(
            f"before-send.{SERVICE}.{operation}", request=request
        )
        if response is None:
            raise RuntimeError("The kbsync sandbox is not running.")
        return response

    def answer_sts(self, action: str, request: AWSPreparedRequest) -> AWSResponse:
        _handler, response = self._events.get_component("event_emitter").emit_until_response(
            f"before-send.sts.{action}", request=request
        )
        if response is None:
            raise RuntimeError("moto did not answer the STS request.")
        return response

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


def serve(port: int, speed: float, host: str = DEFAULT_HOST, verbose: bool = False) -> None:
    """Run the sandbox and its HTTP server until SIGTERM or Ctrl-C."""
    # SIGTERM ends it as Ctrl-C does, from the very start: a caller may stop it as soon as the
    # port accepts, before serve_forever runs.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with Sandbox(speed=speed) as sandbox:
            server = SandboxHttpServer((host, port), sandbox, verbose=verbose)
            # The line a caller waits for; with --port 0 it is also how it learns the port.
            print(f"kbsync sandbox bedrock-agent listening on {server.url}", flush=True)
            try:
                server.serve_forever(poll_interval=0.1)
            finally:
                server.server_close()
    except KeyboardInterrupt:
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m kbsync_sandbox.server",
        description="Serve the kbsync sandbox's simulated bedrock-agent over HTTP.",
    )
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    arguments = parser.parse_args(argv)
    if not arguments.speed > 0:
        parser.error("--speed must be greater than 0")
    serve(arguments.port, arguments.speed, arguments.host, arguments.verbose)


if __name__ == "__main__":
    sys.exit(main())
