"""`python -m kbsync db upgrade|revision`: the schema brought up to date, or a clear refusal."""

import pytest

from kbsync_core.store.database import SCHEMA_REVISION
from tests.support.cli import kbsync
from tests.support.servers import REPO_ROOT

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "kbsync-0.1.0.sqlite3"


def test_db_upgrade_brings_a_0_1_0_database_to_the_newest_revision(tmp_path):
    database = tmp_path / "old.sqlite3"
    database.write_bytes(FIXTURE.read_bytes())
    url = f"sqlite:///{database}"
    assert kbsync("db", "revision", database_url=url).stdout.strip().startswith("empty")

    upgraded = kbsync("db", "upgrade", database_url=url)

    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == SCHEMA_REVISION
    assert kbsync("db", "revision", database_url=url).stdout.strip() == SCHEMA_REVISION


def test_db_upgrade_on_postgresql(postgres_url):
    upgraded = kbsync("db", "upgrade", database_url=postgres_url)
    assert (upgraded.returncode, upgraded.stdout.strip()) == (0, SCHEMA_REVISION), upgraded.stderr


@pytest.mark.parametrize("action", ["upgrade", "revision"])
def test_an_unreachable_database_is_named_without_its_password(action):
    url = "postgresql+psycopg://kbsync:hunter2-secret@127.0.0.1:1/kbsync"
    refused = kbsync("db", action, database_url=url)
    assert refused.returncode == 2
    assert "Cannot open the database postgresql+psycopg://kbsync:***@127.0.0.1:1/kbsync" in (
        refused.stderr
    )
    assert "hunter2" not in refused.stderr + refused.stdout
    assert "Traceback" not in refused.stderr
