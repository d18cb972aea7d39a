"""Seed 004's jobs API over HTTP, on a console of its own (its tokens make the API require
one): the seed's example body on the sandbox's orders_db, every error code in the seed's
shape, the limits, runs read back after /run (and a 409 while one is under way), an
incremental run after sample rows are added, pause/resume/delete, scopes and a
connection-limited token, and a source's password in no reply."""

import itertools
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from kbsync_api.contract import internal_error
from kbsync_api.table_jobs import add_sample_rows, in_seed_shape
from tests.support.servers import start_console
from tests.support.tokens import client, create_token
from tests.support.waiting import wait_for

FULL_TOKEN = "kbsync-table-jobs-test-token-4e1b7a"  # KBSYNC_API_TOKEN: every scope
CUSTOM = "sandbox-custom"  # the sandbox's CUSTOM data source's connection
S3 = "sandbox"  # the sandbox's S3 data source's connection
SOURCE_PASSWORD = "pw-never-shown-9f2c"  # a test source's
SOURCES_TOML = f"""
[sources.shop]
url = "postgresql+psycopg://reader:{SOURCE_PASSWORD}@127.0.0.1:1/shop"
"""
JSON = {"Content-Type": "application/json"}
NAMES = itertools.count()
FINAL = ("completed", "failed", "cancelled", "skipped")
RUN_FIELDS = {
    "status", "started_at", "finished_at", "rows_read", "rows_sent", "rows_skipped",
    "rows_failed", "error",
}  # fmt: skip


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("table-jobs")
    sources = data_dir / "sources.toml"
    sources.write_text(SOURCES_TOML)
    environment = {"KBSYNC_API_TOKEN": FULL_TOKEN, "KBSYNC_SOURCES_FILE": str(sources)}
    with start_console(data_dir, environment, name="table-jobs") as running:
        yield running


@pytest.fixture(scope="module")
def api(console):
    return client(console, FULL_TOKEN)


def moment(delta: timedelta = timedelta()) -> str:
    """An ISO 8601 time without an offset (the seed's form: UTC), whole seconds."""
    return (datetime.now(UTC) + delta).replace(microsecond=0, tzinfo=None).isoformat()


def seed_body(**overrides) -> dict:
    """The seed's example, adapted: the sandbox's orders_db.orders, the connection
    sandbox-custom, a window starting now (its first slot a little later); a name of its own."""
    body = {
        "job_name": f"sync_orders_{next(NAMES)}",
        "source_table": "orders_db.orders",
        "kb_name": CUSTOM,
        "content_columns": ["product", "description"],
        "filter_column": "created_at",
        "interval": "10 MINUTES",
        "start_time": moment(timedelta(minutes=5)),
        "end_time": moment(timedelta(days=1)),
    }
    body.update(overrides)
    return body


def created(api, **overrides) -> dict:
    reply = api.post("/api/jobs/create", seed_body(**overrides))
    assert reply.status == 201, reply.json
    return reply.json["data"]


def assert_error(reply, status: int, code: str) -> dict:
    """The seed's error shape, exactly: {"success": false, "error": {code, message, details}}."""
    assert reply.status == status, (reply.status, reply.json)
    assert reply.headers["content-type"].startswith("application/json")
    assert list(reply.json) == ["success", "error"] and reply.json["success"] is False
    error = reply.json["error"]
    assert list(error) == ["code", "message", "details"], error
    assert error["code"] == code and error["message"], error
    assert isinstance(error["details"], list)
    return error


def ended_run(api, job_id: str, run_id: str) -> dict:
    def ended():
        runs = api.get(f"/api/jobs/{job_id}").json["data"]["runs"]
        run = next(run for run in runs if run["run_id"] == run_id)
        return run if run["status"] in FINAL else None

    return wait_for(ended)


def test_the_seeds_example_is_created_as_the_seed_answers(api):
    body = seed_body(job_name="sync_orders")
    reply = api.post("/jobs/create", body)  # the seed's own path

    assert reply.status == 201, reply.json
    assert list(reply.json) == ["success", "message", "data"]
    assert reply.json["success"] is True and reply.json["message"] == "Job created successfully"
    data = reply.json["data"]
    assert list(data) == ["job_id", "job_name", "status", "created_at", "next_run"]
    assert (data["job_name"], data["status"]) == ("sync_orders", "scheduled")
    assert data["job_id"].startswith("job_")
    # No offset: UTC. The first slot is start_time itself.
    start = datetime.fromisoformat(body["start_time"]).replace(tzinfo=UTC)
    assert datetime.fromisoformat(data["next_run"].replace("Z", "+00:00")) == start
    # The same under /api, and both listed.
    other = created(api, job_name="sync_orders_api")
    listed = api.get("/api/jobs").json["data"]["jobs"]
    assert {data["job_id"], other["job_id"]} <= {job["job_id"] for job in listed}


def test_every_code_and_limit_in_the_seeds_shape(api):
    created(api, job_name="taken")
    cases = [
        ({"job_name": "taken"}, "DUPLICATE_JOB", "already exists"),
        ({"source_table": "orders_db.no_such_table"}, "INVALID_TABLE", "no_such_table"),
        ({"source_table": "nowhere.orders"}, "INVALID_TABLE", "unknown source 'nowhere'"),
        ({"content_columns": ["product", "colour"]}, "INVALID_TABLE", "'colour'"),
        ({"kb_name": "no-such-knowledge-base"}, "INVALID_KB", "no-such-knowledge-base"),
        ({"interval": "SOMETIMES"}, "INVALID_INTERVAL", "SOMETIMES"),
        ({"interval": "30 SECONDS"}, "INVALID_INTERVAL", "interval"),  # under a minute
        ({"start_time": "tomorrow at noon"}, "INVALID_DATETIME", "start_time"),
        ({"end_time": moment(-timedelta(hours=1))}, "INVALID_DATETIME", "end_time"),
        ({"end_time": moment(timedelta(days=31))}, "INVALID_DATETIME", "30 days"),
    ]
    for overrides, code, detail in cases:
        error = assert_error(api.post("/jobs/create", seed_body(**overrides)), 400, code)
        assert len(error["details"]) == 1 and detail in error["details"][0], (overrides, error)

    # Several problems: INVALID_REQUEST, every one at once, one line each.
    body = seed_body(interval="now and then", end_time="never")
    del body["job_name"]
    error = assert_error(api.post("/jobs/create", body), 400, "INVALID_REQUEST")
    assert error["message"] == "Invalid job configuration"
    assert "job_name is required" in error["details"]
    assert len(error["details"]) == 3, error
    assert not [job for job in api.get("/api/jobs").json["data"]["jobs"] if job["job_name"] == ""]


def test_the_http_errors_are_in_the_seeds_shape_too(api, console):
    assert_error(api.post("/jobs/create", raw=b"{not json", headers=JSON), 400, "INVALID_REQUEST")
    assert_error(api.post("/jobs/create", raw=b"job_name=x"), 415, "UNSUPPORTED_MEDIA_TYPE")
    too_big = b'{"job_name": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    assert_error(api.post("/api/jobs/create", raw=too_big, headers=JSON), 413, "PAYLOAD_TOO_LARGE")
    not_allowed = api.get("/jobs/create")
    assert_error(not_allowed, 405, "METHOD_NOT_ALLOWED")
    assert not_allowed.headers["allow"] == "POST"
    assert_error(api.get("/api/jobs/job_nope"), 404, "JOB_NOT_FOUND")
    assert_error(api.post("/api/jobs/job_nope/run"), 404, "JOB_NOT_FOUND")
    assert_error(api.post("/api/jobs/job_nope/sideways"), 404, "NOT_FOUND")
    unauthorized = assert_error(client(console).post("/jobs/create", seed_body()), 401,
                                "UNAUTHORIZED")  # fmt: skip
    assert "token" in unauthorized["message"]


def test_runs_after_run_now_one_at_a_time_then_only_the_new_rows(api):
    job = created(api, job_name="runs")
    job_id = job["job_id"]

    first = api.post(f"/api/jobs/{job_id}/run")
    assert first.status == 202, first.json
    assert first.json["data"]["status"] == "running"
    # One run at a time: the first is still reading or sending its 36+ rows.
    assert_error(api.post(f"/api/jobs/{job_id}/run"), 409, "JOB_RUNNING")
    run = ended_run(api, job_id, first.json["data"]["run_id"])
    assert set(run) >= RUN_FIELDS
    assert run["status"] == "completed", run
    assert run["rows_read"] >= 36 and run["rows_failed"] == 0 and run["finished_at"]

    added = api.post("/api/sandbox/orders", {"count": 3})
    assert added.status == 201, added.json
    assert len(added.json["data"]["order_ids"]) == 3
    second = api.post(f"/api/jobs/{job_id}/run").json["data"]
    run = ended_run(api, job_id, second["run_id"])
    assert (run["status"], run["rows_read"], run["rows_sent"]) == ("completed", 3, 3), run

    third = api.post(f"/api/jobs/{job_id}/run").json["data"]
    run = ended_run(api, job_id, third["run_id"])
    assert (run["status"], run["rows_read"], run["rows_sent"]) == ("skipped", 0, 0), run
    body = api.get(f"/api/jobs/{job_id}").json["data"]
    assert [r["run_id"] for r in body["runs"][:3]] == [
        third["run_id"], second["run_id"], first.json["data"]["run_id"]
    ]  # fmt: skip
    assert body["last_run"]["run_id"] == third["run_id"]
    assert_error(api.post("/api/sandbox/orders", {"count": 0}), 400, "INVALID_REQUEST")


def test_pause_resume_and_delete(api):
    job_id = created(api, job_name="paused")["job_id"]
    paused = api.post(f"/api/jobs/{job_id}/pause")
    assert paused.status == 200, paused.json
    assert (paused.json["data"]["status"], paused.json["data"]["next_run"]) == ("paused", None)
    assert api.get(f"/api/jobs/{job_id}").json["data"]["status"] == "paused"
    resumed = api.post(f"/api/jobs/{job_id}/resume").json["data"]
    assert resumed["status"] == "scheduled" and resumed["next_run"]
    deleted = api.request("DELETE", f"/api/jobs/{job_id}")
    assert deleted.status == 200 and deleted.json["data"] == {"job_id": job_id}
    assert_error(api.get(f"/api/jobs/{job_id}"), 404, "JOB_NOT_FOUND")
    assert_error(api.request("DELETE", f"/api/jobs/{job_id}"), 404, "JOB_NOT_FOUND")


def test_scopes_and_a_token_limited_to_connections(api, console):
    reader = client(console, create_token(console, "jobs-reader", "jobs:read"))
    limited = client(
        console, create_token(console, "custom-only", "jobs:read,jobs:write", "--connections",
                              CUSTOM)
    )  # fmt: skip
    on_s3 = created(api, job_name="on the S3 connection", kb_name=S3)["job_id"]

    assert reader.get("/api/jobs").status == 200
    assert reader.get("/api/sources").status == 200
    forbidden = assert_error(reader.post("/jobs/create", seed_body(job_name="r")), 403,
                             "FORBIDDEN")  # fmt: skip
    assert "jobs:write" in forbidden["message"]
    assert_error(reader.post(f"/api/jobs/{on_s3}/pause"), 403, "FORBIDDEN")

    error = assert_error(limited.post("/api/jobs/create", seed_body(job_name="l", kb_name=S3)),
                         400, "INVALID_KB")  # fmt: skip
    assert CUSTOM in error["details"][0]
    mine = limited.post("/api/jobs/create", seed_body(job_name="limited's own"))
    assert mine.status == 201, mine.json
    listed = {job["job_id"] for job in limited.get("/api/jobs").json["data"]["jobs"]}
    assert mine.json["data"]["job_id"] in listed and on_s3 not in listed
    assert_error(limited.get(f"/api/jobs/{on_s3}"), 404, "JOB_NOT_FOUND")
    assert_error(limited.request("DELETE", f"/api/jobs/{on_s3}"), 404, "JOB_NOT_FOUND")
    assert api.get(f"/api/jobs/{on_s3}").status == 200  # still there


def test_sources_are_listed_and_a_password_is_never_in_a_reply(api):
    sources = {s["name"]: s for s in api.get("/api/sources").json["data"]["sources"]}
    orders = {t["source_table"]: t for t in sources["orders_db"]["tables"]}["orders_db.orders"]
    columns = {column["name"]: column for column in orders["columns"]}
    assert {"product", "description", "created_at"} <= set(columns)
    assert columns["order_id"]["primary_key"] is True
    assert sources["shop"]["tables"] == [] and sources["shop"]["error"]  # unreachable
    error = assert_error(
        api.post("/jobs/create", seed_body(job_name="shop", source_table="shop.orders")),
        400, "INVALID_TABLE",
    )  # fmt: skip
    assert error["details"]
    assert not [raw for raw in api.received if SOURCE_PASSWORD.encode() in raw]
    assert not [raw for raw in api.received if b"postgresql+psycopg://" in raw]


def test_sample_rows_only_on_the_sandbox():
    aws = SimpleNamespace(settings=SimpleNamespace(uses_sandbox=False))
    reply = add_sample_rows(aws, {"count": 3})
    assert reply.status == 404 and reply.body["error"]["code"] == "NOT_FOUND"


def test_a_fault_of_kbsyncs_is_a_500_in_the_seeds_shape_without_its_details():
    reply = in_seed_shape("/jobs/create", internal_error("testing", RuntimeError("secret detail")))
    assert reply.status == 500
    assert reply.body["success"] is False and reply.body["error"]["code"] == "INTERNAL_ERROR"
    assert "secret detail" not in str(reply.body) and reply.body["error"]["details"] == []
