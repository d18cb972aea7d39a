"""Webhooks: per connection, URLs told when a sync of its data source fails, is stopped, or
(when asked) completes. The messages are messages.py's; sending them is
notifier.py's, in the background.

A webhook URL is a secret (whoever has it posts to the channel): it is stored encrypted
(kbsync_core/secretbox.py) and never shown back, only a hint such as `hooks.slack.com/…/…a1b2`.
No error message repeats it either.
"""

import urllib.parse
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kbsync_core.connections import Connections
from kbsync_core.errors import (
    SecretKeyMissingError,
    WebhookInvalidError,
    WebhookNotFoundError,
)
from kbsync_core.notifications.delivery import Outcome, post_json
from kbsync_core.notifications.messages import ConnectionFacts, trial_message
from kbsync_core.secretbox import MAKE_A_KEY, SecretBox
from kbsync_core.store.webhooks import DeliveryRecord, WebhookRecord, WebhookStore
from kbsync_core.timefmt import iso_utc, utc_now

URL_MAX_LENGTH = 2048
FIELDS = ("url", "notifyCompleted")
# How many characters of the URL's end the hint shows: enough to tell two webhooks apart.
HINT_TAIL_CHARACTERS = 4
DELIVERIES_SHOWN = 50
NO_SECRET_KEY = (
    "Webhook URLs are stored encrypted, and this server has no key to encrypt them: "
    + MAKE_A_KEY
    + "."
)


@dataclass(frozen=True)
class Webhook:
    id: str
    connection_id: str
    url_hint: str
    notify_completed: bool
    created_at: str

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "connectionId": self.connection_id,
            "url": self.url_hint,
            "notifyCompleted": self.notify_completed,
            "createdAt": self.created_at,
        }


@dataclass(frozen=True)
class Delivery:
    """One message to a webhook, as the console and the API show it (never the URL)."""

    id: int
    webhook_id: str
    url_hint: str
    execution_id: str
    event: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: str
    updated_at: str

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "webhookId": self.webhook_id,
            "url": self.url_hint,
            "executionId": self.execution_id,
            "event": self.event,
            "state": self.state,
            "attempts": self.attempts,
            "lastStatus": self.last_status,
            "lastError": self.last_error,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


def url_hint(url: str) -> str:
    """`hooks.slack.com/…/…a1b2`: the host, and the URL's last few characters."""
    parsed = urllib.parse.urlsplit(url)
    tail = url.rstrip("/")[-HINT_TAIL_CHARACTERS:]
    return f"{parsed.netloc}/…/…{tail}"


def validate_url(value: Any) -> str:
    """An absolute http(s) URL with a host; the messages never repeat it."""
    if not isinstance(value, str) or not value.strip():
        raise WebhookInvalidError("url is required: the webhook's https:// address.", "url")
    url = value.strip()
    if len(url) > URL_MAX_LENGTH or any(ch.isspace() or not ch.isprintable() for ch in url):
        raise WebhookInvalidError(
            f"url must be one URL of at most {URL_MAX_LENGTH} characters, without spaces.", "url"
        )
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme.lower() not in ("http", "https") or not parsed.hostname:
        raise WebhookInvalidError("url must be an http:// or https:// address.", "url")
    if parsed.username or parsed.password:
        raise WebhookInvalidError("url must not carry a user name or password.", "url")
    return url


def validate(payload: Any) -> tuple[str, bool]:
    if not isinstance(payload, Mapping):
        raise WebhookInvalidError("The request body must be a JSON object.")
    unknown = sorted(str(name) for name in set(payload) - set(FIELDS))
    if unknown:
        raise WebhookInvalidError(
            f"{unknown[0]} is not a field of a webhook; it has {', '.join(FIELDS)}.", unknown[0]
        )
    notify_completed = payload.get("notifyCompleted", False)
    if not isinstance(notify_completed, bool):
        raise WebhookInvalidError("notifyCompleted must be true or false.", "notifyCompleted")
    return validate_url(payload.get("url")), notify_completed


class Webhooks:
    """The webhooks of one store's connections: added, listed, tested, deleted; and their
    recent deliveries."""

    def __init__(
        self,
        store: WebhookStore,
        connections: Connections,
        secrets: SecretBox | None,
        *,
        console_url: str | None = None,
        send=post_json,
    ):
        self._store = store
        self._connections = connections
        self._secrets = secrets
        self._console_url = console_url
        self._send = send

    @property
    def can_add(self) -> bool:
        """Whether this server can store a webhook URL (it has a key to encrypt it with)."""
        return self._secrets is not None

    def deliveries(
        self,
        connection_id: str,
        visible: Iterable[str] | None = None,
        limit: int = DELIVERIES_SHOWN,
    ) -> list[Delivery]:
        """The connection's webhooks' newest deliveries, newest first."""
        hints = {webhook.id: webhook.url_hint for webhook in self.list(connection_id, visible)}
        return [
            _delivery(record, hints[record.webhook_id])
            for record in self._store.deliveries_of(list(hints), limit)
        ]

    def list(self, connection_id: str, visible: Iterable[str] | None = None) -> list[Webhook]:
        self._connections.get(connection_id, visible)
        return [_webhook(record) for record in self._store.of_connection(connection_id)]

    def add(self, connection_id: str, payload: Any, visible: Iterable[str] | None = None):
        self._connections.get(connection_id, visible)
        url, notify_completed = validate(payload)
        if self._secrets is None:
            raise SecretKeyMissingError(NO_SECRET_KEY)
        record = WebhookRecord(
            id=str(uuid.uuid4()),
            connection_id=connection_id,
            url_encrypted=self._secrets.encrypt(url),
            url_hint=url_hint(url),
            notify_completed=notify_completed,
            created_at=iso_utc(utc_now()),
        )
        self._store.insert(record)
        return _webhook(record)

    def delete(
        self, connection_id: str, webhook_id: str, visible: Iterable[str] | None = None
    ) -> None:
        self._connections.get(connection_id, visible)
        if not self._store.delete(connection_id, webhook_id):
            raise WebhookNotFoundError(webhook_id)

    def test(
        self, connection_id: str, webhook_id: str, visible: Iterable[str] | None = None
    ) -> Outcome:
        """Post a test message now (once, no retry): what the webhook answered."""
        connection = self._connections.get(connection_id, visible)
        record = self._store.get(webhook_id)
        if record is None or record.connection_id != connection_id:
            raise WebhookNotFoundError(webhook_id)
        if self._secrets is None:
            raise SecretKeyMissingError(NO_SECRET_KEY)
        url = self._secrets.decrypt(record.url_encrypted)
        facts = ConnectionFacts(connection.id, connection.name)
        return self._send(url, trial_message(facts, self._console_url))


def _webhook(record: WebhookRecord) -> Webhook:
    return Webhook(
        id=record.id,
        connection_id=record.connection_id,
        url_hint=record.url_hint,
        notify_completed=bool(record.notify_completed),
        created_at=record.created_at,
    )


def _delivery(record: DeliveryRecord, hint: str) -> Delivery:
    return Delivery(
        id=record.id,
        webhook_id=record.webhook_id,
        url_hint=hint,
        execution_id=record.execution_id,
        event=record.event,
        state=record.state,
        attempts=record.attempts,
        last_status=record.last_status,
        last_error=record.last_error,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )
