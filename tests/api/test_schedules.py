"""Schedules over HTTP: kbsync's /api/schedules (create, read, change, pause, resume, run now,
delete) and seed 003's GET/PUT /api/sync/schedules, their 400s and 404s, scopes, a token limited
to some connections seeing no other's; and a schedule firing in the server by itself (its
scheduler's clock sped up 20 times: a minute's cron fires every 3 s)."""

import re
import time

import pytest

from tests.api.client import JsonClient
from tests.support.servers import start_console
from tests.support.tokens import client, create_token

SECONDS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
FIRING_WAIT_SECONDS = 30


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    with start_console(
        tmp_path_factory.mktemp("schedules"),
        {"KBSYNC_SCHEDULER_CLOCK_SPEED": "20", "KBSYNC_SCHEDULER_TICK_SECONDS": "0.2"},
        name="schedules",
    ) as running:
        yield running


@pytest.fixture(scope="module")
def tokens(console) -> dict[str, str]:
    return {
        "admin": create_token(console, "admin", "*"),
        "reader": create_token(console, "reader", "schedules:read"),
        "limited": create_token(console, "limited", "*", "--connections", "sandbox-failing"),
    }


@pytest.fixture
def admin(console, tokens) -> JsonClient:
    return client(console, tokens["admin"])


def wait_for(condition, timeout: float = FIRING_WAIT_SECONDS):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return found


def test_create_read_pause_resume_change_and_delete(admin):
    created = admin.post("/api/schedules", {
        "connectionId": "sandbox", "expression": "0 */4 * * *", "name": "every 4 h",
        "timezone": "Europe/Madrid", "startTime": "2026-06-01T00:00:00",
    })
    assert created.status == 201, created.json
    schedule = created.json
    assert (schedule["expression"], schedule["timezone"], schedule["startTime"]) == (
        "0 */4 * * *", "Europe/Madrid", "2026-05-31T22:00:00.000Z"
    )
    assert schedule["enabled"] is True and schedule["nextFiring"]
    path = f"/api/schedules/{schedule['id']}"
    assert admin.get(path).json["firings"] == []
    paused = admin.request("PUT", path, {"enabled": False})
    assert (paused.status, paused.json["enabled"], paused.json["nextFiring"]) == (200, False, None)
    resumed = admin.request("PUT", path, {"enabled": True, "expression": "daily"})
    assert (resumed.json["expression"], resumed.json["enabled"]) == ("DAILY", True)
    assert resumed.json["nextFiring"]
    assert schedule["id"] in [s["id"] for s in admin.get("/api/schedules").json["schedules"]]
    assert admin.request("DELETE", path).status == 204
    assert admin.get(path).status == 404
    assert admin.request("DELETE", path).status == 404


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"connectionId": "sandbox", "expression": "30 SECONDS"}, "expression", "once a minute"),
        ({"connectionId": "sandbox", "expression": "61 * * * *"}, "expression", "minute"),
        ({"connectionId": "nope", "expression": "DAILY"}, "connection", "no connection"),
        ({"connectionId": "sandbox", "expression": "DAILY", "timezone": "Mars/Base"},
         "timezone", "Unknown time zone"),
        ({"connectionId": "sandbox", "expression": "DAILY", "startTime": "2026-02-01T00:00:00Z",
          "endTime": "2026-01-01T00:00:00Z"}, "end", "after the start"),
    ],
)
def test_refusals_are_400s_naming_the_field(admin, body, field, words):
    refused = admin.post("/api/schedules", body)
    assert refused.status == 400
    assert refused.json["field"] == field and words in refused.json["error"]


def test_seed_003s_put_keeps_one_schedule_per_channel_and_lists_it_in_its_shape(admin):
    put = admin.request("PUT", "/api/sync/schedules", {
        "channel_id": "sandbox-failing", "schedule": "0 */2 * * *", "enabled": True,
    })
    assert put.status == 200, put.json
    again = admin.request("PUT", "/api/sync/schedules", {
        "channel_id": "sandbox-failing", "schedule": "0 */4 * * *", "enabled": False,
        "timezone": "Europe/Madrid",
    })
    assert again.status == 200
    listed = [s for s in admin.get("/api/sync/schedules").json["schedules"]
              if s["channel_id"] == "sandbox-failing"]
    assert listed == [{
        "channel_id": "sandbox-failing", "schedule": "0 */4 * * *", "enabled": False,
        "next_sync": None, "last_sync": None, "timezone": "Europe/Madrid",
        "start_time": None, "end_time": None,
    }]
    enabled = admin.request("PUT", "/api/sync/schedules",
                            {"channel_id": "sandbox-failing", "enabled": True})
    assert SECONDS_Z.match(enabled.json["schedule"]["next_sync"])
    for body, field in [
        ({"schedule": "DAILY"}, "channel_id"),
        ({"channel_id": "nope", "schedule": "DAILY"}, "channel_id"),
        ({"channel_id": "sandbox", "enabled": True}, "schedule"),
        ({"channel_id": "sandbox", "schedule": "every day"}, "schedule"),
        ({"channel_id": "sandbox", "schedule": "DAILY", "enabled": "yes"}, "enabled"),
    ]:
        refused = admin.request("PUT", "/api/sync/schedules", body)
        assert (refused.status, refused.json.get("field")) == (400, field), (body, refused.json)


def test_scopes_and_a_token_limited_to_some_connections(console, tokens, admin):
    mine = admin.post("/api/schedules", {"connectionId": "sandbox", "expression": "WEEKLY"})
    reader = client(console, tokens["reader"])
    assert reader.get("/api/sync/schedules").status == 200
    assert reader.get(f"/api/schedules/{mine.json['id']}").status == 200
    assert reader.request("PUT", "/api/sync/schedules",
                          {"channel_id": "sandbox", "schedule": "DAILY"}).status == 403
    assert reader.post("/api/schedules", {}).status == 403
    limited = client(console, tokens["limited"])
    assert mine.json["id"] not in [s["id"] for s in limited.get("/api/schedules").json["schedules"]]
    assert limited.get(f"/api/schedules/{mine.json['id']}").status == 404
    assert limited.request("DELETE", f"/api/schedules/{mine.json['id']}").status == 404
    refused = limited.post("/api/schedules", {"connectionId": "sandbox", "expression": "DAILY"})
    assert (refused.status, refused.json["field"]) == (400, "connection")
    assert {s["channel_id"] for s in limited.get("/api/sync/schedules").json["schedules"]} <= {
        "sandbox-failing"
    }
    admin.request("DELETE", f"/api/schedules/{mine.json['id']}")


def test_run_now_starts_a_sync_the_schedule_names(admin):
    schedule = admin.post("/api/schedules", {"connectionId": "sandbox", "expression": "WEEKLY",
                                             "name": "weekly handbook"}).json
    ran = admin.post(f"/api/schedules/{schedule['id']}/run")
    assert ran.status == 202, ran.json
    execution = admin.wait_for(ran.json["executionId"], lambda e: e["status"] == "COMPLETADO")
    assert execution["trigger"] == "schedule"
    assert any("programación weekly handbook" in line for line in execution["logs"])
    firing = admin.get(f"/api/schedules/{schedule['id']}").json["lastFiring"]
    assert (firing["outcome"], firing["executionId"]) == ("started", ran.json["executionId"])
    assert admin.post("/api/schedules/nope/run").status == 404
    admin.request("DELETE", f"/api/schedules/{schedule['id']}")


def test_a_schedule_fires_by_itself_in_the_server(admin):
    put = admin.request("PUT", "/api/sync/schedules",
                        {"channel_id": "sandbox", "schedule": "* * * * *", "enabled": True})
    assert put.status == 200
    schedule = next(s for s in admin.get("/api/schedules").json["schedules"]
                    if s["connectionId"] == "sandbox" and s["expression"] == "* * * * *")
    fired = wait_for(lambda: admin.get(f"/api/schedules/{schedule['id']}").json["lastFiring"])
    assert fired["outcome"] in ("started", "skipped", "starting")
    started = wait_for(lambda: next(
        (f for f in admin.get(f"/api/schedules/{schedule['id']}").json["firings"]
         if f["outcome"] == "started"), None))
    execution = admin.wait_for(started["executionId"], lambda e: e["status"] == "COMPLETADO")
    assert execution["trigger"] == "schedule"
    last_sync = next(s for s in admin.get("/api/sync/schedules").json["schedules"]
                     if s["channel_id"] == "sandbox")["last_sync"]
    assert SECONDS_Z.match(last_sync)
    admin.request("PUT", "/api/sync/schedules", {"channel_id": "sandbox", "enabled": False})
