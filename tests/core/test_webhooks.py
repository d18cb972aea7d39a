"""Webhooks: one message per sync that fails or is stopped (completed when asked), sent in the
background to a real HTTP receiver, retried on 500, not on 404, once across notifiers, and the
URL kept out of the database, the errors and the logs."""

import logging
import threading
import time
from pathlib import Path

import pytest

from kbsync_core.config import ConfigurationError, load_settings
from kbsync_core.connections import credentials_for
from kbsync_core.errors import SecretKeyMissingError, WebhookInvalidError
from kbsync_core.models import ExecutionStatus
from kbsync_core.notifications.notifier import WebhookNotifier
from kbsync_core.notifications.webhooks import Webhooks
from kbsync_core.runtime import Kbsync
from kbsync_core.secretbox import SecretBox, new_secret_key
from kbsync_core.store import ExecutionStore
from kbsync_core.validation import SyncRequest
from tests.support.waiting import wait_for
from tests.support.webhook_receiver import SECRET_PATH, WebhookReceiver

FAST_RETRIES = (0.05, 0.05, 0.05, 0.05)


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def kbsync(fast_settings):
    kbsync = Kbsync.open(fast_settings)
    kbsync.notifier.retry_delays = FAST_RETRIES
    yield kbsync
    kbsync.close()


def start(kbsync: Kbsync, connection_id: str):
    connection = kbsync.connections.get(connection_id)
    return kbsync.engine.start_sync(
        SyncRequest(
            connection.target,
            credentials_for(connection),
            "webhook test",
            connection_id=connection.id,
        )
    )


def ended(kbsync: Kbsync, execution_id: str):
    return wait_for(lambda: (e := kbsync.store.get(execution_id)) and e.status.is_final and e)


def deliveries(kbsync: Kbsync, connection_id: str, state: str):
    return wait_for(
        lambda: [d for d in kbsync.webhooks.deliveries(connection_id) if d.state == state]
    )


def test_a_failed_and_a_stopped_sync_each_send_one_well_formed_message(kbsync, receiver):
    kbsync.webhooks.add("sandbox-failing", {"url": receiver.url})
    kbsync.webhooks.add("sandbox", {"url": receiver.url})

    failed = ended(kbsync, start(kbsync, "sandbox-failing").id)
    assert failed.status is ExecutionStatus.FALLIDO and failed.failure_reasons
    kbsync.sandbox.speed = 2  # slow enough to stop it mid-run
    running = start(kbsync, "sandbox")
    wait_for(lambda: kbsync.store.get(running.id).job_id)
    kbsync.engine.stop_sync(running.id)
    kbsync.sandbox.speed = 200
    stopped = ended(kbsync, running.id)
    assert stopped.status is ExecutionStatus.DETENIDO

    hits = receiver.wait_for(2)
    deliveries(kbsync, "sandbox", "delivered")
    assert len(receiver.received) == 2
    assert {hit["path"] for hit in hits} == {SECRET_PATH}
    assert {hit["contentType"] for hit in hits} == {"application/json"}
    texts = {hit["body"]["text"]: hit["body"] for hit in hits}
    assert all(set(body) == {"text"} for body in texts.values())  # Slack's and Teams' field
    failed_text = next(text for text in texts if "FAILED" in text)
    stopped_text = next(text for text in texts if "STOPPED" in text)
    assert "connection sandbox-failing" in failed_text
    assert failed.job_id in failed_text and failed.id in failed_text
    assert "SANDBOXKB1" in failed_text and "SANDBOXDS2" in failed_text
    assert "Duration:" in failed_text
    first_reason = failed.failure_reasons[0].replace("<", "&lt;").replace(">", "&gt;")
    assert first_reason[:60] in failed_text
    assert "(connection sandbox)" in stopped_text and stopped.job_id in stopped_text
    # Nothing more: one message per sync and event, whatever else the notifier looks at.
    kbsync.notifier.run_once()
    assert len(receiver.received) == 2


def test_completed_syncs_are_told_only_to_webhooks_that_ask(kbsync, receiver):
    kbsync.webhooks.add("sandbox", {"url": receiver.url})
    kbsync.webhooks.add("sandbox", {"url": receiver.url, "notifyCompleted": True})
    completed = ended(kbsync, start(kbsync, "sandbox").id)
    assert completed.status is ExecutionStatus.COMPLETADO
    receiver.wait_for(1)
    kbsync.notifier.run_once()
    assert len(receiver.received) == 1
    assert "Sync completed" in receiver.received[0]["body"]["text"]
    [delivery] = kbsync.webhooks.deliveries("sandbox")
    assert (delivery.event, delivery.state) == ("completed", "delivered")


def test_a_500_is_retried_until_delivered(kbsync, receiver):
    receiver.answer(500, 500)
    kbsync.webhooks.add("sandbox-failing", {"url": receiver.url})
    ended(kbsync, start(kbsync, "sandbox-failing").id)
    [delivery] = deliveries(kbsync, "sandbox-failing", "delivered")
    assert [hit["status"] for hit in receiver.received] == [500, 500, 200]
    assert delivery.attempts == 3
    assert len(receiver.messages()) == 1


def test_a_404_is_not_retried_and_shows_as_failed(kbsync, receiver, caplog):
    receiver.answer(404)
    kbsync.webhooks.add("sandbox-failing", {"url": receiver.url})
    with caplog.at_level(logging.DEBUG):
        ended(kbsync, start(kbsync, "sandbox-failing").id)
        [delivery] = deliveries(kbsync, "sandbox-failing", "failed")
        kbsync.notifier.run_once()
    assert len(receiver.received) == 1
    assert (delivery.attempts, delivery.last_status) == (1, 404)
    assert "HTTP 404" in delivery.last_error and "no_service" in delivery.last_error
    assert "not delivered" in caplog.text and "giving up" in caplog.text
    assert SECRET_PATH not in caplog.text and "DoNotLeak" not in caplog.text
    assert "DoNotLeak" not in delivery.last_error


def test_the_url_is_stored_encrypted_and_never_shown(kbsync, receiver, fast_settings):
    webhook = kbsync.webhooks.add("sandbox", {"url": receiver.url})
    assert webhook.url_hint.startswith("127.0.0.1:") and webhook.url_hint.endswith("…6789")
    assert "DoNotLeak" not in str(webhook.to_dict()) + repr(webhook)
    assert "DoNotLeak" not in str([w.to_dict() for w in kbsync.webhooks.list("sandbox")])
    database = Path(fast_settings.database_url.removeprefix("sqlite:///"))
    stored = b"".join(path.read_bytes() for path in database.parent.glob("kbsync.sqlite3*"))
    assert b"DoNotLeak" not in stored and b"T0KBSYNC" not in stored
    # The sandbox generated its key beside the database, readable by its owner only.
    key_file = database.parent / "kbsync-secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_a_refused_url_is_not_repeated(kbsync):
    for url in ("ftp://example.com/secretpath-DoNotLeak", "https://user:pw@x/DoNotLeak", 42):
        with pytest.raises(WebhookInvalidError) as refused:
            kbsync.webhooks.add("sandbox", {"url": url})
        assert "DoNotLeak" not in str(refused.value) and refused.value.field == "url"


def test_without_a_key_on_aws_adding_a_webhook_says_how_to_make_one(kbsync):
    keyless = Webhooks(kbsync.store.webhooks, kbsync.connections, None)
    with pytest.raises(SecretKeyMissingError, match="python -m kbsync secret-key"):
        keyless.add("sandbox", {"url": "https://hooks.slack.com/services/T/B/x"})


def test_the_secret_key_setting_is_checked_without_repeating_it():
    key = new_secret_key()
    assert load_settings({"KBSYNC_SECRET_KEY": key}).secret_key == key
    assert key not in repr(load_settings({"KBSYNC_SECRET_KEY": key}))
    with pytest.raises(ConfigurationError, match="secret-key") as refused:
        load_settings({"KBSYNC_SECRET_KEY": "not-a-key-DoNotLeak"})
    assert "DoNotLeak" not in str(refused.value)


def test_two_notifiers_on_one_store_deliver_once(database_url, receiver):
    key = new_secret_key()
    store = ExecutionStore(database_url)
    try:
        from kbsync_core.connections import Connections

        connections = Connections(store.connections, None)
        connections.create(
            {
                "id": "orders",
                "name": "Orders",
                "region": "us-east-1",
                "knowledgeBaseId": "ORDERSKB01",
                "dataSourceId": "ORDERSDS01",
                "credentials": {"type": "default"},
            }
        )
        Webhooks(store.webhooks, connections, SecretBox(key)).add("orders", {"url": receiver.url})
        ended_sync = _ended_execution(store)
        notifiers = [
            WebhookNotifier(store, SecretBox(key), f"replica-{n}", retry_delays=FAST_RETRIES)
            for n in range(2)
        ]
        barrier = threading.Barrier(2)

        def work(notifier):
            barrier.wait()
            notifier.run_once()

        threads = [threading.Thread(target=work, args=(n,)) for n in notifiers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        for notifier in notifiers:
            notifier.run_once()
        assert len(receiver.received) == 1
        assert ended_sync in receiver.received[0]["body"]["text"]
    finally:
        store.close()


def test_a_delivery_held_by_a_replica_that_died_is_taken_over(tmp_path, receiver):
    key = new_secret_key()
    store = ExecutionStore(f"sqlite:///{tmp_path}/k.sqlite3")
    try:
        from kbsync_core.connections import Connections

        connections = Connections(store.connections, None)
        connections.create(
            {
                "id": "orders",
                "name": "Orders",
                "region": "us-east-1",
                "knowledgeBaseId": "ORDERSKB01",
                "dataSourceId": "ORDERSDS01",
                "credentials": {"type": "default"},
            }
        )
        Webhooks(store.webhooks, connections, SecretBox(key)).add("orders", {"url": receiver.url})
        _ended_execution(store)
        now = [time.time()]
        dead = WebhookNotifier(store, SecretBox(key), "dead", clock=lambda: now[0])
        dead.enqueue_ended(now[0])
        [delivery_id] = store.webhooks.due(int(now[0] * 1000), 10)
        assert store.webhooks.claim(delivery_id, "dead", int(now[0] * 1000), 60_000)
        # ... and the replica dies before sending. Another one waits for the claim to expire.
        alive = WebhookNotifier(store, SecretBox(key), "alive", clock=lambda: now[0])
        assert alive.run_once() == 0
        now[0] += 61
        assert alive.run_once() == 1
        assert len(receiver.received) == 1
    finally:
        store.close()


def _ended_execution(store: ExecutionStore) -> str:
    """A failed sync of ORDERSKB01/ORDERSDS01, ended now."""
    from kbsync_core.models import Execution, SyncTarget
    from kbsync_core.timefmt import iso_utc, utc_now

    now = iso_utc(utc_now())
    execution = Execution(
        id="5f0e6a8e-4c1b-4a57-9d1e-7d0f3a1b2c3d",
        target=SyncTarget("us-east-1", "ORDERSKB01", "ORDERSDS01"),
        description="nightly",
        status=ExecutionStatus.PENDIENTE,
        started_at=now,
        job_id="JOB0000001",
    )
    store.add(execution)
    store.record(
        execution.id,
        status=ExecutionStatus.FALLIDO,
        finished_at=iso_utc(utc_now()),
        failure_reasons=["Access denied to s3://orders-bucket"],
    )
    return execution.id
