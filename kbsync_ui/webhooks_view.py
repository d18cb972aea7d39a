"""The Connections page's webhooks of the chosen connection: the list (each URL as a hint, never
whole), the recent deliveries with the failed ones plain to see, and for admins add, test and
delete. The URL typed is sent to the core once and never drawn again: the input is emptied
after an add."""

from contextlib import suppress

import pandas as pd
import streamlit as st

from kbsync_core.connections import Connection
from kbsync_core.errors import (
    ConnectionNotFoundError,
    SecretKeyMissingError,
    WebhookInvalidError,
    WebhookNotFoundError,
)
from kbsync_core.notifications.webhooks import Webhook, Webhooks
from kbsync_core.secretbox import SecretUnreadableError
from kbsync_ui.i18n import Texts, format_moment

TEXTS = Texts(
    {
        "title": ("Webhooks", "Webhooks"),
        "about": (
            "Told when a sync of this data source fails or is stopped (and completes, if "
            "asked), in a message Slack and Microsoft Teams incoming webhooks accept. URLs are "
            "stored encrypted and shown only as a hint.",
            "Se les avisa cuando una sincronización de este origen de datos falla o se detiene "
            "(y cuando termina, si se pide), con un mensaje que aceptan los webhooks entrantes "
            "de Slack y Microsoft Teams. Las URL se guardan cifradas y solo se muestra una "
            "pista.",
        ),
        "none": ("No webhooks yet.", "Aún no hay webhooks."),
        "url": ("URL", "URL"),
        "completed": ("Completed too", "También completadas"),
        "created": ("Added", "Añadido"),
        "yes": ("yes", "sí"),
        "no": ("no", "no"),
        "new_url": ("Webhook URL", "URL del webhook"),
        "new_url_help": (
            "Slack: https://hooks.slack.com/services/...; Teams: the incoming webhook's URL.",
            "Slack: https://hooks.slack.com/services/...; Teams: la URL del webhook entrante.",
        ),
        "notify_completed": (
            "Notify completed syncs too",
            "Avisar también de las sincronizaciones completadas",
        ),
        "add": ("Add webhook", "Añadir webhook"),
        "added": ("Added the webhook {hint}.", "Webhook {hint} añadido."),
        "pick": ("Webhook", "Webhook"),
        "test": ("Send a test message", "Enviar un mensaje de prueba"),
        "tested": ("The webhook answered {status}.", "El webhook respondió {status}."),
        "test_failed": ("The test message failed: {error}", "El mensaje de prueba falló: {error}"),
        "delete": ("Delete webhook", "Eliminar webhook"),
        "deleted": ("Deleted the webhook {hint}.", "Webhook {hint} eliminado."),
        "deliveries": ("Recent deliveries", "Envíos recientes"),
        "no_deliveries": ("Nothing sent yet.", "Aún no se ha enviado nada."),
        "failed_count": (
            "{count} failed: see the last error of each.",
            "{count} fallidos: vea el último error de cada uno.",
        ),
        "when": ("When", "Cuándo"),
        "event": ("Sync", "Sincronización"),
        "execution": ("Execution", "Ejecución"),
        "state": ("Delivery", "Envío"),
        "attempts": ("Attempts", "Intentos"),
        "last_status": ("Last answer", "Última respuesta"),
        "last_error": ("Last error", "Último error"),
        "failed": ("failed", "fallida"),
        "stopped": ("stopped", "detenida"),
        "completed_event": ("completed", "completada"),
        "pending": ("pending", "pendiente"),
        "delivered": ("delivered", "entregado"),
        "failed_state": ("failed", "fallido"),
    }
)
NEW_URL_KEY = "webhooks_new_url"
CLEAR_KEY = "webhooks_clear_new_url"
NOTICE_KEY = "webhooks_notice"
EVENT_WORDS = {"failed": "failed", "stopped": "stopped", "completed": "completed_event"}
STATE_WORDS = {"pending": "pending", "delivered": "delivered", "failed": "failed_state"}


def render_webhooks(service: Webhooks, connection: Connection, *, can_change: bool) -> None:
    st.subheader(TEXTS("title"))
    st.caption(TEXTS("about"))
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.success(notice, icon=":material/check_circle:")
    try:
        webhooks = service.list(connection.id)
    except ConnectionNotFoundError:
        return  # deleted meanwhile: the page's list no longer has it either
    _render_list(webhooks)
    if can_change:
        if webhooks:
            _render_actions(service, connection, webhooks)
        _render_add(service, connection)
    _render_deliveries(service, connection)


def _render_list(webhooks: list[Webhook]) -> None:
    if not webhooks:
        st.info(TEXTS("none"))
        return
    rows = [
        {
            TEXTS("url"): webhook.url_hint,
            TEXTS("completed"): TEXTS("yes") if webhook.notify_completed else TEXTS("no"),
            TEXTS("created"): format_moment(webhook.created_at),
        }
        for webhook in webhooks
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def _render_actions(service: Webhooks, connection: Connection, webhooks: list[Webhook]) -> None:
    by_id = {webhook.id: webhook for webhook in webhooks}
    chosen = st.selectbox(
        TEXTS("pick"), list(by_id), key="webhooks_pick", format_func=lambda i: by_id[i].url_hint
    )
    if chosen is None:
        return
    test_column, delete_column = st.columns(2)
    if test_column.button(TEXTS("test"), icon=":material/send:", key="webhooks_test"):
        try:
            outcome = service.test(connection.id, chosen)
        except (WebhookNotFoundError, SecretKeyMissingError, SecretUnreadableError) as error:
            st.error(str(error), icon=":material/error:")
        else:
            if outcome.delivered:
                st.success(TEXTS("tested", status=outcome.status), icon=":material/check_circle:")
            else:
                st.error(TEXTS("test_failed", error=outcome.error), icon=":material/error:")
    if delete_column.button(TEXTS("delete"), icon=":material/delete:", key="webhooks_delete"):
        with suppress(WebhookNotFoundError):  # deleted meanwhile: the same outcome
            service.delete(connection.id, chosen)
        st.session_state[NOTICE_KEY] = TEXTS("deleted", hint=by_id[chosen].url_hint)
        st.rerun()


def _render_add(service: Webhooks, connection: Connection) -> None:
    if st.session_state.pop(CLEAR_KEY, False):
        # Emptied before the input is drawn: the URL typed is never sent back to the browser.
        st.session_state[NEW_URL_KEY] = ""
    url = st.text_input(
        TEXTS("new_url"), key=NEW_URL_KEY, type="password", help=TEXTS("new_url_help")
    )
    notify_completed = st.checkbox(TEXTS("notify_completed"), key="webhooks_notify_completed")
    if not st.button(TEXTS("add"), icon=":material/add_link:", key="webhooks_add"):
        return
    try:
        added = service.add(connection.id, {"url": url, "notifyCompleted": notify_completed})
    except (WebhookInvalidError, SecretKeyMissingError, ConnectionNotFoundError) as error:
        st.error(str(error), icon=":material/error:")
        return
    st.session_state[CLEAR_KEY] = True
    st.session_state[NOTICE_KEY] = TEXTS("added", hint=added.url_hint)
    st.rerun()


def _render_deliveries(service: Webhooks, connection: Connection) -> None:
    st.markdown(f"**{TEXTS('deliveries')}**")
    deliveries = service.deliveries(connection.id)
    if not deliveries:
        st.caption(TEXTS("no_deliveries"))
        return
    failed = [delivery for delivery in deliveries if delivery.state == "failed"]
    if failed:
        st.warning(TEXTS("failed_count", count=len(failed)), icon=":material/warning:")
    rows = [
        {
            TEXTS("when"): format_moment(delivery.created_at),
            TEXTS("url"): delivery.url_hint,
            TEXTS("event"): TEXTS(EVENT_WORDS.get(delivery.event, "failed")),
            TEXTS("execution"): delivery.execution_id,
            TEXTS("state"): TEXTS(STATE_WORDS.get(delivery.state, "pending")),
            TEXTS("attempts"): delivery.attempts,
            TEXTS("last_status"): delivery.last_status,
            TEXTS("last_error"): delivery.last_error or "",
        }
        for delivery in deliveries
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
