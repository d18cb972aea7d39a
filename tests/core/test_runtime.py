"""The process registry as a server opens it: settings from the environment, sandbox included."""

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from kbsync_core.config import Settings
from kbsync_core.models import ExecutionStatus
from kbsync_core.runtime import Kbsync, process_credentials
from kbsync_core.validation import HistoryRequest, validate_sync_request
from kbsync_sandbox import SANDBOX_DATA_SOURCE_ID, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_REGION
from tests.conftest import TEST_SECRET
from tests.support.servers import clean_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
CONFIG = Path(__file__).resolve().parents[2] / "kbsync_core" / "config.py"


def sandbox_sync_request():
    return validate_sync_request(
        {
            "region": SANDBOX_REGION,
            "knowledgeBaseId": SANDBOX_KNOWLEDGE_BASE_ID,
            "dataSourceId": SANDBOX_DATA_SOURCE_ID,
            "accessKeyId": "AKIAKBSYNCTESTKEY001",
            "secretAccessKey": TEST_SECRET,
        }
    )


def test_every_setting_is_documented_in_the_readme():
    variables = set(re.findall(r'"(KBSYNC_[A-Z_]+)"', CONFIG.read_text()))
    assert len(variables) >= 8
    readme = README.read_text()
    assert not [name for name in variables if f"`{name}`" not in readme]


def test_only_an_explicit_setting_lends_the_process_its_credentials():
    assert process_credentials(Settings(backend="aws")) is None
    assert process_credentials(Settings(backend="sandbox")) is None
    assert process_credentials(Settings(backend="aws", allow_ambient_credentials=True))


def test_a_restarted_sandbox_process_ends_what_its_lost_sandbox_was_running(fast_settings):
    kbsync = Kbsync.open(replace(fast_settings, sandbox_speed=1))
    request = sandbox_sync_request()
    execution = kbsync.engine.start_sync(request)
    kbsync.close()  # the process stops with the sync still running

    again = Kbsync.open(fast_settings)
    try:
        lost = again.store.get(execution.id)
        assert lost.status is ExecutionStatus.FALLIDO
        assert lost.finished_at
        assert "el sandbox integrado no conserva sus jobs" in lost.logs[-1]
    finally:
        again.close()


def test_a_sandbox_process_syncs_and_reads_history_end_to_end(fast_settings):
    kbsync = Kbsync.open(fast_settings)
    try:
        request = sandbox_sync_request()
        execution = kbsync.engine.start_sync(request)
        done = kbsync.engine.wait(execution.id, 30)
        assert done.status is ExecutionStatus.COMPLETADO
        rows = kbsync.history.read(HistoryRequest(request.target, request.credentials, 30))
        assert [row["id"] for row in rows] == [execution.id]
        assert rows[0]["jobId"] == done.job_id
    finally:
        kbsync.close()
        kbsync.close()


REAL_AWS_START = """
import sys
from kbsync_core.runtime import get_kbsync, close_kbsync
import kbsync_api.routes
get_kbsync()
close_kbsync()
print(sorted(set(sys.modules) & {"moto", "kbsync_sandbox", "pandas", "alembic"}))
"""


def test_a_process_on_real_aws_loads_neither_the_sandbox_nor_pandas(tmp_path):
    # What keeps it lean (under 100 MB resident idle): moto, pandas and Alembic (for a database
    # already at the newest revision) are loaded only where they are used.
    database = f"sqlite:///{tmp_path}/kbsync.sqlite3"
    for _ in range(2):  # the first start creates the schema (Alembic), the second only opens it
        started = subprocess.run(
            [sys.executable, "-c", REAL_AWS_START], cwd=REPO_ROOT, capture_output=True,
            text=True, timeout=60,
            env=clean_environment({"KBSYNC_BACKEND": "aws", "KBSYNC_DATABASE_URL": database}),
        )
        assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "[]"
