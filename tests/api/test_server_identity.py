"""Stopping a run that works with the server's identity (a connection's) without keys of
one's own acts as the server: on the aws backend with no token in existence it is a 401, as
starting it would be; a run started with an operator's keys stops with its execution id alone,
as seed 000 has it."""

import dataclasses

import pytest

from kbsync_api import contract
from kbsync_core.runtime import Kbsync
from tests.api.conftest import sync_body


@pytest.fixture
def kbsync(fast_settings):
    kbsync = Kbsync.open(fast_settings)
    yield kbsync
    kbsync.close()


def test_a_stop_without_keys_of_a_connections_run_needs_a_token_on_aws(kbsync):
    from_connection = contract.start_sync(kbsync, {"connectionId": "sandbox"})
    with_keys = contract.start_sync(kbsync, sync_body(description="keys"))
    assert (from_connection.status, with_keys.status) == (202, 202)
    # The same process, as if it served real AWS with no token created yet.
    kbsync.settings = dataclasses.replace(kbsync.settings, backend="aws")
    refused = contract.stop_sync(kbsync, {"executionId": from_connection.body["executionId"]})
    assert refused.status == 401, refused.body
    assert "python -m kbsync tokens create" in refused.body["error"]
    assert not kbsync.store.runs.get(from_connection.body["executionId"]).stop_requested
    stopped = contract.stop_sync(kbsync, {"executionId": with_keys.body["executionId"]})
    assert stopped.status == 202, stopped.body
