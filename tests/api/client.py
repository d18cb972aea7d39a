"""A small HTTP client for the API tests: stdlib only, every byte under the test's control."""

import http.client
import json
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

REQUEST_TIMEOUT_SECONDS = 30.0
WAIT_SECONDS = 30.0
WAIT_POLL_SECONDS = 0.05
FINAL_STATUSES = ("COMPLETADO", "FALLIDO", "DETENIDO")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    raw: bytes
    json: Any = field(default=None)

    @property
    def error(self) -> str | None:
        return self.json.get("error") if isinstance(self.json, dict) else None


class JsonClient:
    """Talks to one server; `received` keeps every reply body, for the secrets test."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None):
        parts = urllib.parse.urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.default_headers = dict(headers or {})
        self.received: list[bytes] = []

    def request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Send `payload` as JSON (Content-Type application/json), or `raw` bytes as they are."""
        all_headers = dict(self.default_headers)
        body = raw
        if payload is not None:
            body = json.dumps(payload).encode()
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        connection = http.client.HTTPConnection(self.host, self.port, REQUEST_TIMEOUT_SECONDS)
        try:
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            data = response.read()
            reply_headers = {name.lower(): value for name, value in response.getheaders()}
        finally:
            connection.close()
        self.received.append(data)
        reply = Reply(response.status, reply_headers, data)
        if data and reply_headers.get("content-type", "").startswith("application/json"):
            reply.json = json.loads(data)
        return reply

    def get(self, path: str, **query: str) -> Reply:
        if query:
            path = f"{path}?{urllib.parse.urlencode(query)}"
        return self.request("GET", path)

    def post(self, path: str, payload: Any = None, **kwargs) -> Reply:
        return self.request("POST", path, payload, **kwargs)

    # -- the seeds' flows --------------------------------------------------------------------

    def start_sync(self, body: dict) -> str:
        reply = self.post("/api/sync", body)
        assert reply.status == 202, (reply.status, reply.json)
        return reply.json["executionId"]

    def execution(self, execution_id: str) -> dict:
        reply = self.get("/api/sync", executionId=execution_id)
        assert reply.status == 200, (reply.status, reply.json)
        return reply.json

    def wait_for(self, execution_id: str, condition, timeout: float = WAIT_SECONDS) -> dict:
        """Poll GET /api/sync, as seed 000's client does, until `condition(execution)`."""
        deadline = time.monotonic() + timeout
        while True:
            execution = self.execution(execution_id)
            if condition(execution):
                return execution
            assert time.monotonic() < deadline, f"still waiting after {timeout} s: {execution}"
            time.sleep(WAIT_POLL_SECONDS)

    def wait_until_final(self, execution_id: str, timeout: float = WAIT_SECONDS) -> dict:
        """Until the execution has ended: a final status and its finishedAt.

        Both, because the engine records AWS's terminal status (with the line "Estado actual:
        STOPPED", say) one store write before it records the end (finishedAt, the closing log
        line): a poll in between sees the one without the other.
        """
        return self.wait_for(
            execution_id,
            lambda execution: execution["status"] in FINAL_STATUSES and "finishedAt" in execution,
            timeout,
        )


def wait_until(condition, timeout: float = WAIT_SECONDS, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: still false after {timeout} s"
        time.sleep(WAIT_POLL_SECONDS)
