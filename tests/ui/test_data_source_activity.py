"""kbsync_core/activity.py: which sync runs on a data source, from the store and then AWS."""

from kbsync_core.activity import ACTIVITY_MAX_AGE_SECONDS, DataSourceActivity
from kbsync_core.history import HistoryService
from kbsync_core.models import AwsCredentials, SyncTarget
from kbsync_core.validation import HistoryRequest
from kbsync_sandbox import SANDBOX_DATA_SOURCE_ID, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_REGION
from tests.ui.conftest import SECRET
from tests.ui.helpers import run_outside_kbsync, texts

TARGET = SyncTarget(SANDBOX_REGION, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_DATA_SOURCE_ID)
KEYS = AwsCredentials.from_keys("AKIAIOSFODNN7EXAMPLE", SECRET)


def listings(kbsync) -> int:
    return sum(1 for name, _params in kbsync.sandbox.calls if name == "ListIngestionJobs")


def activity_with_clock(kbsync):
    """An activity on a history service whose clock the test moves."""
    now = [0.0]
    history = HistoryService(kbsync.engine, kbsync.clients, clock=lambda: now[0])
    return DataSourceActivity(kbsync.store, history), history, now


def test_aws_is_asked_once_per_few_seconds_and_its_job_is_named(kbsync):
    kbsync.sandbox.speed = 2
    activity, history, now = activity_with_clock(kbsync)
    assert activity.running(TARGET, KEYS).running is None
    job = run_outside_kbsync()
    now[0] = ACTIVITY_MAX_AGE_SECONDS - 0.1
    assert activity.running(TARGET, KEYS).running is None  # the shared answer, still fresh
    assert listings(kbsync) == 1
    now[0] = ACTIVITY_MAX_AGE_SECONDS
    running = activity.running(TARGET, KEYS).running
    assert (running.job_id, running.trigger, running.execution) == (
        job["ingestionJobId"], "aws", None
    )
    assert listings(kbsync) == 2
    # The History page reads the same answer: no call of its own within its TTL.
    history.read(HistoryRequest(TARGET, KEYS))
    assert listings(kbsync) == 2
    kbsync.sandbox.speed = 200


def test_without_credentials_only_the_store_is_asked(kbsync):
    activity, _, _ = activity_with_clock(kbsync)
    assert activity.running(TARGET, None).running is None
    assert listings(kbsync) == 0


def test_an_aws_refusal_is_a_short_warning_on_the_page_not_a_crash(console, kbsync):
    console.text_input(key="connection_access_key_id").input("AKIADENIED0000000000")
    console.text_input(key="connection_secret_access_key").input(SECRET)
    console.run()
    assert not console.exception
    page = texts(console)
    assert "Could not ask AWS whether a sync runs on it: AccessDeniedException" in page
    assert SECRET not in page
