"""The Connections page's webhooks: an admin adds one (the URL never drawn again), tests it,
sees failed deliveries with their error, and deletes it."""

from kbsync_core.connections import credentials_for
from kbsync_core.validation import SyncRequest
from tests.support.waiting import wait_for
from tests.support.webhook_receiver import SECRET_PATH, WebhookReceiver
from tests.ui.test_connections_page import open_page

SECRET = SECRET_PATH.rsplit("/", 1)[-1]


def everything_shown(at) -> str:
    """Every element's value and label, widgets' state included."""
    return str(list(at.main)) + str(at.get("text_input")) + str(at.get("arrow_data_frame"))


def test_an_admin_adds_tests_sees_failures_and_deletes_a_webhook(kbsync):
    kbsync.notifier.retry_delays = (0.05,)
    with WebhookReceiver() as receiver:
        at = open_page(kbsync)
        at.selectbox(key="connections_pick").set_value("sandbox-failing").run()
        assert "No webhooks yet." in [info.value for info in at.info]
        at.text_input(key="webhooks_new_url").input(receiver.url)
        at.button(key="webhooks_add").click().run()
        assert not at.exception, at.exception
        [webhook] = kbsync.webhooks.list("sandbox-failing")
        assert f"Added the webhook {webhook.url_hint}." in [s.value for s in at.success]
        assert at.text_input(key="webhooks_new_url").value == ""
        hints = list(at.dataframe[1].value["URL"])
        assert hints == [webhook.url_hint]
        # What is looked through does hold the tables and inputs, the hint included.
        assert webhook.url_hint in everything_shown(at)
        assert SECRET not in everything_shown(at)

        at.button(key="webhooks_test").click().run()
        assert "The webhook answered 200." in [s.value for s in at.success]
        assert "test message" in receiver.wait_for(1)[0]["body"]["text"]

        receiver.answer(404)
        connection = kbsync.connections.get("sandbox-failing")
        kbsync.engine.start_sync(
            SyncRequest(
                connection.target, credentials_for(connection), connection_id="sandbox-failing"
            )
        )
        wait_for(
            lambda: [
                d for d in kbsync.webhooks.deliveries("sandbox-failing") if d.state == "failed"
            ]
        )
        at.run()
        assert "1 failed: see the last error of each." in [w.value for w in at.warning]
        deliveries = at.dataframe[2].value
        assert list(deliveries["Delivery"]) == ["failed"]
        assert "HTTP 404" in deliveries["Last error"][0]
        assert SECRET not in everything_shown(at)

        at.button(key="webhooks_delete").click().run()
        assert kbsync.webhooks.list("sandbox-failing") == []
        assert f"Deleted the webhook {webhook.url_hint}." in [s.value for s in at.success]
