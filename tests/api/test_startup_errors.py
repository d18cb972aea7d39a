"""A server that cannot start says why in an operator's words, and keeps secrets out of it."""

import pytest

from tests.support.servers import ServerFailedToStart, start_console


@pytest.mark.parametrize(
    ("environment", "said"),
    [
        (
            {"KBSYNC_DATABASE_URL": "postgresql+psycopg://kbsync:hunter2-secret@127.0.0.1:1/kb"},
            "kbsync cannot start: Cannot open the database "
            "postgresql+psycopg://kbsync:***@127.0.0.1:1/kb",
        ),
        (
            {"KBSYNC_LEASE_SECONDS": "soon"},
            "kbsync cannot start: KBSYNC_LEASE_SECONDS must be a number, not 'soon'.",
        ),
    ],
    ids=["unreachable-database", "bad-setting"],
)
def test_a_server_that_cannot_start_says_why(tmp_path, environment, said):
    with pytest.raises(ServerFailedToStart) as failed:
        start_console(tmp_path, environment, name="cannot-start")
    assert said in str(failed.value)
    assert "hunter2" not in str(failed.value)
