"""The sandbox's bedrock-agent over real HTTP, in a process of its own.

    python -m kbsync_sandbox.server --port 8600 [--speed 20]
    KBSYNC_BACKEND=aws AWS_ENDPOINT_URL_BEDROCK_AGENT=http://127.0.0.1:8600 streamlit run app.py

The in-process sandbox dies with the process that runs it; this one outlives a kbsync process,
so a test can kill kbsync mid-sync and find the job where AWS would have left it. Each HTTP
request is routed to its operation by method and path (botocore's requestUri for every
bedrock-agent operation), rebuilt as the prepared request botocore would have sent, and handed to
the sandbox's before-send handler, whose response is written back as it is.

Two paths outside AWS's API let a test drive the simulated time, as the in-process Sandbox's
methods do (moto serves its own /moto-api/ the same way):

    PUT  /_kbsync_sandbox/speed                {"speed": 50}
    POST /_kbsync_sandbox/finish-running-jobs

It listens on 127.0.0.1 only: it accepts any credentials, so it is no service to expose.
"""

import argparse
import json
import re
import signal
import sys
from functools import cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from .botocore_hook import _path_pattern
from .environment import Sandbox
from .model import SERVICE_MODEL

DEFAULT_HOST = "127.0.0.1"
SERVICE = "bedrock-agent"
# What botocore's parser reads an unroutable request's answer as.
UNKNOWN_OPERATION = "UnknownOperationException"
BAD_REQUEST = "SerializationException"
INTERNAL_FAILURE = "InternalServerException"
CONTROL_PREFIX = "/_kbsync_sandbox/"


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
    server: "SandboxHttpServer"

    def do_request(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        if path.startswith(CONTROL_PREFIX):
            self._control(path.removeprefix(CONTROL_PREFIX), body)
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
        except ValueError:  # a body that is not JSON
            self._send_error(HTTPStatus.BAD_REQUEST, BAD_REQUEST, "The body is not valid JSON.")
            return
        except Exception as error:
            self._send_error(
                HTTPStatus.INTERNAL_SERVER_ERROR, INTERNAL_FAILURE, type(error).__name__
            )
            return
        self._send(response.status_code, dict(response.headers), response.content)

    def _control(self, action: str, body: bytes) -> None:
        sandbox = self.server.sandbox
        if (self.command, action) == ("POST", "finish-running-jobs"):
            sandbox.finish_running_jobs()
        elif (self.command, action) == ("PUT", "speed"):
            try:
                sandbox.speed = float(json.loads(body)["speed"])
            except (ValueError, TypeError, KeyError):
                message = 'Send {"speed": <simulated seconds per real second, above 0>}.'
                self._send_error(HTTPStatus.BAD_REQUEST, BAD_REQUEST, message)
                return
        else:
            message = f"No sandbox control answers {self.command} {CONTROL_PREFIX}{action}."
            self._send_error(HTTPStatus.NOT_FOUND, UNKNOWN_OPERATION, message)
            return
        answer = json.dumps({"speed": sandbox.speed}).encode()
        self._send(HTTPStatus.OK, {"Content-Type": "application/json"}, answer)

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
