"""README.md's "JSON API" section: complete, and its examples work as written."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kbsync_api.routes import api_routes
from tests.api.client import JsonClient

README = Path(__file__).resolve().parents[2] / "README.md"
README_BASE_URL = "http://localhost:8501"
SCRIPT_TIMEOUT_SECONDS = 60
STATUSES = (
    "200", "201", "202", "204", "400", "401", "403", "404", "405", "409", "413", "415", "429",
    "500", "502",
)


def json_api_section() -> str:
    text = README.read_text()
    start = text.index("\n## JSON API\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def shell_examples() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", json_api_section(), flags=re.DOTALL)


def example_bodies() -> list[dict]:
    """The JSON bodies the curl examples send with -d '...'."""
    return [json.loads(body) for body in re.findall(r"-d '(.*?)'", json_api_section(), re.DOTALL)]


def json_documents(text: str) -> list:
    """Every JSON document printed one after another (curl adds no newline)."""
    decoder, documents, position = json.JSONDecoder(), [], 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        document, position = decoder.raw_decode(text, position)
        documents.append(document)
    return documents


def test_every_endpoint_and_status_is_documented():
    section = json_api_section()
    paths = {route.path for route in api_routes() if "{" not in route.path and route.path != "/api"}
    assert paths == {
        "/api/health", "/api/sync", "/api/sync/stop", "/api/sync-history", "/api/connections",
        "/api/sync/status", "/api/sync/history", "/api/sync/cancel",
        "/api/schedules", "/api/sync/schedules",
        "/api/v2/data-ingestion/jobs", "/api/v2/data-ingestion/adapters",
        "/jobs/create", "/api/jobs/create", "/api/jobs", "/api/sources", "/api/sandbox/orders",
    }
    assert not [path for path in paths if path not in section]
    assert not [status for status in STATUSES if f"`{status}" not in section]
    assert "KBSYNC_API_TOKEN" in section
    # Seed 002's, with their methods, as its section names them ({jobId}: the seed's word).
    ingestion = [
        route
        for route in api_routes()
        if route.path.startswith("/api/v2/data-ingestion/") and "{rest" not in route.path
    ]
    assert len(ingestion) == 3
    for route in ingestion:
        path = route.path.replace("{job_id}", "{jobId}")
        for method in set(route.endpoint.handlers) - {"HEAD"}:
            assert f"`{method} {path}" in section, (method, path)
    # Seed 004's, each path with each of its methods.
    jobs = [
        route
        for route in api_routes()
        if route.path.startswith(("/jobs/", "/api/jobs", "/api/sources", "/api/sandbox/"))
        and "{rest" not in route.path
    ]
    assert len(jobs) == 9
    for route in jobs:
        for method in set(route.endpoint.handlers) - {"HEAD"}:
            assert f"`{method} {route.path.replace('{job_id}', '{id}')}" in section, route.path


def test_the_examples_use_the_sandbox_and_the_seeds_bodies():
    bodies = example_bodies()
    assert len(bodies) == 2
    for body in bodies:
        assert (body["knowledgeBaseId"], body["dataSourceId"]) == ("SANDBOXKB1", "SANDBOXDS1")
        assert body["accessKeyId"] == "AKIAIOSFODNN7EXAMPLE"
    assert bodies[0]["description"] == "Manual sync from UI"
    assert bodies[1]["maxResults"] == 40


def test_the_example_bodies_are_accepted_as_they_are(api):
    start, history = example_bodies()
    execution_id = api.start_sync(start)
    assert api.wait_until_final(execution_id)["status"] == "COMPLETADO"
    reply = api.post("/api/sync-history", history)
    assert reply.status == 200
    assert execution_id in [row["id"] for row in reply.json["executions"]]


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("python3")), reason="needs curl")
def test_the_curl_examples_run_as_written(console):
    examples = shell_examples()
    assert len(examples) == 4
    script = "\n".join(examples).replace(README_BASE_URL, console.url)

    finished = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_SECONDS, check=False,
    )

    assert finished.returncode == 0, finished.stderr
    execution_id, rest = finished.stdout.split("\n", 1)
    status, history, stop = json_documents(rest)
    assert (status["id"], status["knowledgeBaseId"]) == (execution_id, "SANDBOXKB1")
    assert status["logs"]
    assert execution_id in [row["id"] for row in history["executions"]]
    assert stop.get("id") == execution_id or "already ended" in stop["error"]
    JsonClient(console.url).wait_until_final(execution_id)
