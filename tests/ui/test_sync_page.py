"""The Sync page: the data source's state first, start, watch to the end, stop (Stopping, then
Stopped), the URL that names the execution watched, and the conflict path."""

import re

from streamlit.testing.v1 import AppTest

from kbsync_core.models import AwsCredentials, ExecutionStatus
from kbsync_core.timefmt import iso_utc
from kbsync_core.validation import SyncRequest
from kbsync_ui.session import CURRENT_EXECUTION_KEY
from tests.ui.conftest import APP, sign_in
from tests.ui.helpers import rerun_until, run_outside_kbsync, texts, wait_for_execution


def start_button(at):
    return at.button(key="sync_start")


def start(at):
    start_button(at).click().run()
    assert not at.exception, at.exception
    return at.session_state[CURRENT_EXECUTION_KEY]


def badge(at) -> str:
    """The panel's status badge (the last one: the data source's state may show one too)."""
    return [m.value for m in at.markdown if "-badge[" in m.value][-1]


def url_execution(at) -> str | None:
    value = at.query_params.get("execution")
    return value[0] if isinstance(value, list) else value


def test_start_shows_the_execution_and_it_runs_to_completado(console, kbsync):
    sign_in(console)
    assert "No sync runs on data source `SANDBOXDS1` now." in texts(console)
    assert console.text_input(key="sync_description").value == (
        "Sync started from the kbsync console"
    )
    console.text_input(key="sync_description").input("Nightly refresh")
    execution_id = start(console)
    assert url_execution(console) == execution_id  # the URL names what the page watches

    rerun_until(console, lambda at: "Completed" in badge(at))
    execution = kbsync.engine.get(execution_id)
    page = texts(console)
    assert f"`{execution.job_id}`" in page
    assert re.search(r"\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC  Sync completed successfully\.", page)
    assert "Scanned **20** · New **20** · Modified **0** · Deleted **0** · Failed **0** · " \
        "Metadata **6**" in page
    assert not console.metric  # one compact line, not six metrics a phone screen high
    assert execution.description == "Nightly refresh"
    assert [toast.value for toast in console.toast] == [
        f"Sync completed: AWS job {execution.job_id}"
    ]
    session_table = console.dataframe[0].value
    assert list(session_table["Status"]) == ["✅ Completed"]
    assert list(session_table["AWS job"]) == [execution.job_id]
    (started,) = session_table["Started"]
    assert started.endswith(" UTC")  # format_moment: seconds and zone
    assert f"stop-{execution_id}" not in [button.key for button in console.button]
    assert not start_button(console).disabled, texts(console)
    assert execution.trigger == "console"
    console.session_state["console_language"] = "es"  # the log follows the console's language
    assert "UTC  Sincronización completada correctamente." in texts(console.run())


def test_the_session_table_reads_the_current_state_not_a_stale_pending(console, kbsync):
    kbsync.sandbox.speed = 2
    sign_in(console)
    execution_id = start(console)
    execution = wait_for_execution(kbsync, execution_id, lambda e: e.job_id is not None)
    console.run()
    session_table = console.dataframe[0].value
    assert list(session_table["Status"]) == ["🔄 Running"]
    assert list(session_table["AWS job"]) == [execution.job_id]
    kbsync.sandbox.speed = 200


def test_a_running_sync_disables_start_with_the_reason_in_words(console, kbsync):
    kbsync.sandbox.speed = 2
    sign_in(console)
    start(console)
    page = texts(console)
    assert "**A sync runs on data source `SANDBOXDS1` now**" in page
    assert start_button(console).disabled
    assert "Start is off while a sync runs on this data source: watch it or stop it above." \
        in page
    assert ": the one below." in page  # the panel below says how it goes
    kbsync.sandbox.speed = 200


def test_a_start_from_a_page_drawn_before_another_sync_began_is_refused_in_words(console, kbsync):
    kbsync.sandbox.speed = 2
    stale = sign_in(AppTest.from_file(APP, default_timeout=30).run())
    assert not start_button(stale).disabled  # drawn while the data source was idle
    sign_in(console)
    execution_id = start(console)
    start_button(stale).click().run()  # a second, late click on Start
    assert "Not started: a sync already runs on this data source" in texts(stale)
    assert not stale.toast
    target = kbsync.engine.get(execution_id).target
    assert [e.id for e in kbsync.store.list_for_target(target)] == [execution_id]
    kbsync.sandbox.speed = 200


def test_stop_shows_stopping_at_once_then_stopped(console, kbsync):
    kbsync.sandbox.speed = 2
    sign_in(console)
    execution_id = start(console)
    wait_for_execution(kbsync, execution_id, lambda e: e.job_id is not None)
    console.run()
    console.button(key=f"stop-{execution_id}").click().run()
    assert "Stopping" in badge(console)
    assert console.button(key=f"stop-{execution_id}").disabled
    toasts = [toast.value for toast in console.toast]
    assert toasts == [f"Stop requested: AWS job {kbsync.engine.get(execution_id).job_id}"]
    console.run()  # the next refresh: still Stopping, no second toast
    assert "Stopping" in badge(console) and not console.toast
    assert kbsync.store.runs.get(execution_id).stop_requested
    kbsync.sandbox.speed = 200
    rerun_until(console, lambda at: "Stopped" in badge(at))
    assert "UTC  Sync stopped." in texts(console)
    assert [toast.value for toast in console.toast][-1].startswith("Sync stopped: AWS job ")


def test_a_second_session_sees_the_data_source_busy_and_stops_it(console, kbsync):
    kbsync.sandbox.speed = 2
    sign_in(console)
    execution_id = start(console)
    job_id = wait_for_execution(kbsync, execution_id, lambda e: e.job_id is not None).job_id

    other = sign_in(AppTest.from_file(APP, default_timeout=30).run())
    page = texts(other)
    assert "**A sync runs on data source `SANDBOXDS1` now**" in page
    assert f"AWS job `{job_id}`" in page
    assert start_button(other).disabled
    assert "Start is off while a sync runs" in page
    other.button(key="state-stop").click().run()
    assert "Stopping" in texts(other)
    console.run()
    assert "Stopping" in badge(console)  # the first session sees the stop asked elsewhere
    kbsync.sandbox.speed = 200
    rerun_until(console, lambda at: "Stopped" in badge(at))


def test_a_job_started_outside_kbsync_is_shown_and_watched_from_its_own_start(console, kbsync):
    kbsync.sandbox.speed = 2
    job = run_outside_kbsync()
    sign_in(console)
    page = texts(console)
    assert f"AWS job `{job['ingestionJobId']}` · started by AWS (outside kbsync)" in page
    assert start_button(console).disabled
    console.button(key="state-watch").click().run()
    attached = console.session_state[CURRENT_EXECUTION_KEY]
    execution = kbsync.engine.get(attached)
    assert execution.job_id == job["ingestionJobId"]
    # Elapsed counts from AWS's start of the job, not from when watching began.
    assert execution.started_at == iso_utc(job["startedAt"])
    assert url_execution(console) == attached
    kbsync.sandbox.speed = 200
    rerun_until(console, lambda at: "Completed" in badge(at))


def test_a_refused_start_is_said_on_the_page_and_offers_the_running_job(console, kbsync):
    kbsync.sandbox.speed = 2
    sign_in(console)  # the page saw the data source idle...
    running = run_outside_kbsync()["ingestionJobId"]  # ...then someone started a job
    refused = start(console)
    rerun_until(console, lambda at: "Failed" in badge(at))
    assert "AWS refused to start this sync: another one already runs on this data source " \
        f"(AWS job `{running}`)" in texts(console)
    assert not console.toast  # no "Sync failed: <uuid>"
    console.button(key=f"monitor-{refused}").click().run()
    attached = console.session_state[CURRENT_EXECUTION_KEY]
    assert attached != refused
    assert kbsync.engine.get(attached).job_id == running
    kbsync.sandbox.speed = 200
    rerun_until(console, lambda at: "Completed" in badge(at))
    # Back on the refused execution, watching the job again (it ended meanwhile) watches the
    # execution that followed it: no second execution of one job.
    console.query_params["execution"] = refused
    console.run()
    console.button(key=f"monitor-{refused}").click().run()
    assert console.session_state[CURRENT_EXECUTION_KEY] == attached
    target = kbsync.engine.get(attached).target
    assert [e.id for e in kbsync.store.list_for_target(target) if e.job_id == running] == [
        attached
    ]


def test_a_failing_sync_shows_its_reasons(console, kbsync):
    console.text_input(key="connection_data_source_id").input("SANDBOXDS2")
    sign_in(console)
    execution_id = start(console)
    rerun_until(console, lambda at: "Failed" in badge(at))
    reasons = kbsync.engine.get(execution_id).failure_reasons
    assert reasons and [error.value for error in console.error] == reasons


# -- the URL names the execution watched ----------------------------------------------------------

def test_a_reload_or_shared_link_watches_the_same_execution_and_can_stop_it(console, kbsync):
    kbsync.sandbox.speed = 2
    sign_in(console)
    execution_id = start(console)
    wait_for_execution(kbsync, execution_id, lambda e: e.job_id is not None)

    reloaded = AppTest.from_file(APP, default_timeout=30)  # a new tab: nothing typed there
    reloaded.query_params["execution"] = execution_id
    reloaded.query_params["connection"] = "sandbox"
    reloaded.run()
    assert not reloaded.exception, reloaded.exception
    assert "Running" in badge(reloaded)
    assert f"`{kbsync.engine.get(execution_id).job_id}`" in texts(reloaded)
    reloaded.button(key=f"stop-{execution_id}").click().run()
    assert "Stopping" in badge(reloaded)
    kbsync.sandbox.speed = 200
    rerun_until(reloaded, lambda at: "Stopped" in badge(at))


def test_an_unknown_execution_in_the_url_says_so(kbsync):
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["execution"] = "no-such-execution"
    at.run()
    assert not at.exception, at.exception
    assert "kbsync has no execution `no-such-execution`" in texts(at)


# -- Spanish --------------------------------------------------------------------------------------

def test_the_page_speaks_spanish(kbsync):
    console = AppTest.from_file(APP, default_timeout=30)
    console.session_state["console_language"] = "es"
    console.run()
    assert start_button(console).label == "Iniciar sincronización"
    assert console.text_input(key="sync_description").value == (
        "Sincronización iniciada desde la consola de kbsync"
    )
    assert "Complete: ID de clave de acceso, Clave de acceso secreta" in texts(console)
    sign_in(console)
    execution_id = start(console)
    rerun_until(console, lambda at: "Completado" in badge(at))
    job_id = kbsync.engine.get(execution_id).job_id
    assert [toast.value for toast in console.toast] == [
        f"Sincronización completada: job de AWS {job_id}"
    ]
    assert "Analizados **20**" in texts(console)
    assert list(console.dataframe[0].value["Estado"]) == ["✅ Completado"]
    assert kbsync.engine.get(execution_id).status is ExecutionStatus.COMPLETADO


def test_a_running_sync_shows_a_progress_bar_with_its_stage_and_eta(console, kbsync):
    # A first complete sync of the data source, for the second to be measured against.
    first = kbsync.engine.start_sync(
        SyncRequest(
            kbsync.suggested_target,
            AwsCredentials.from_keys("AKIAIOSFODNN7EXAMPLE", "any-secret"),
            "first",
        )
    )
    wait_for_execution(kbsync, first.id, lambda e: e.status.is_final)
    kbsync.sandbox.speed = 2  # the second sync scans for ~5 s
    sign_in(console)
    second = start(console)
    wait_for_execution(
        kbsync, second, lambda e: e.statistics.get("numberOfDocumentsScanned", 0) >= 2
    )
    console.run()
    (bar,) = console.get("progress")
    assert 5 <= bar.proto.value <= 99
    assert "Scanning documents · " in bar.proto.text
    assert " of about 20 documents · ends in about " in bar.proto.text
    assert re.search(r"at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", bar.proto.text)
    kbsync.sandbox.speed = 200
    wait_for_execution(kbsync, second, lambda e: e.status.is_final)
