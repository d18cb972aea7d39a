"""Posting one message to one webhook URL, and what the answer means for a retry.

The standard library's HTTP client (urllib), not requests/urllib3: urllib3 logs each request's
path at DEBUG, and a webhook URL's path is its secret. Redirects are not followed (a webhook
that answers with one is misconfigured, and following it would post the message elsewhere).
No outcome's text ever holds the URL: errors are described by status and reason, and any
piece of the URL a library put in a message is taken out.
"""

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from kbsync_core.logsafety import redact_secrets

TIMEOUT_SECONDS = 10.0
USER_AGENT = "kbsync-webhooks"
# How much of an error answer's body is kept (Slack says why in a word or two: no_service,
# invalid_payload...).
ERROR_BODY_CHARACTERS = 200
TOO_MANY_REQUESTS = 429
# The longest Retry-After honoured, in seconds: a slow channel should not hold a message for
# longer than the retries would anyway.
MAX_RETRY_AFTER_SECONDS = 300.0


@dataclass(frozen=True)
class Outcome:
    """One attempt: delivered, or why not and whether trying again may help."""

    delivered: bool
    status: int | None = None
    error: str | None = None
    retryable: bool = False
    retry_after_seconds: float | None = None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args, **_kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def url_parts(url: str) -> list[str]:
    """The URL and the pieces of it a library's error could repeat (path, query), to remove."""
    parsed = urllib.parse.urlsplit(url)
    return [url, parsed.path, parsed.query, parsed.path.rsplit("/", 1)[-1]]


def post_json(url: str, body: dict, timeout: float = TIMEOUT_SECONDS) -> Outcome:
    """POST `body` as JSON to `url`: 2xx is delivered; 429, 5xx and network failures may be
    retried; any other 4xx (and a redirect) will not get better by trying again."""
    # S310: the URL passed validate_url (http or https only) when it was stored.
    request = urllib.request.Request(  # noqa: S310
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        method="POST",
    )
    secrets = url_parts(url)
    try:
        with _opener.open(request, timeout=timeout) as response:
            return Outcome(True, response.status)
    except urllib.error.HTTPError as answer:
        status = answer.code
        text = _body_of(answer)
        error = f"HTTP {status} {answer.reason or ''}".rstrip()
        if text:
            error += f": {text}"
        return Outcome(
            False,
            status,
            redact_secrets(error, secrets),
            retryable=status == TOO_MANY_REQUESTS or status >= 500,
            retry_after_seconds=_retry_after(answer.headers.get("Retry-After")),
        )
    except Exception as error:  # refused, reset, timed out, DNS, TLS...
        reason = getattr(error, "reason", None) or error
        described = f"{type(error).__name__}: {reason}"
        return Outcome(False, None, redact_secrets(described, secrets), retryable=True)


def _body_of(answer: urllib.error.HTTPError) -> str:
    try:
        raw = answer.read(ERROR_BODY_CHARACTERS * 4)
    except Exception:
        return ""
    text = " ".join(raw.decode("utf-8", "replace").split())
    return text[:ERROR_BODY_CHARACTERS]


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None  # an HTTP date: the backoff's own delay is used instead
    if seconds is None or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER_SECONDS)
