"""Keeps credentials out of log output that kbsync does not write itself.

botocore logs each signed request at DEBUG (headers, canonical request), and with them a session
token. An operator who turns DEBUG on to chase a problem must not find a credential in the
output, so every secret kbsync hands to boto3 is remembered here, in memory only, and removed
from the records of the libraries that could print it.
"""

import logging
import threading

REDACTED = "****"
# The loggers through which botocore and urllib3 can print request headers or signing input.
LIBRARY_LOGGERS = (
    "botocore.auth",
    "botocore.endpoint",
    "botocore.hooks",
    "botocore.httpsession",
    "botocore.parsers",
    "botocore.retryhandler",
    "botocore.credentials",
    "botocore.awsrequest",
    "urllib3.connectionpool",
)

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def remember_secret(*secrets: str | None) -> None:
    with _secrets_lock:
        _secrets.update(secret for secret in secrets if secret)


def forget_secret(*secrets: str | None) -> None:
    with _secrets_lock:
        _secrets.difference_update(secret for secret in secrets if secret)


def redact_known_secrets(text: str) -> str:
    with _secrets_lock:
        secrets = list(_secrets)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class SecretRedactingFilter(logging.Filter):
    """Rewrites a record's message without any secret kbsync knows of."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_known_secrets(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_filter = SecretRedactingFilter()


def install_log_redaction() -> None:
    """Idempotent: attach the filter to the library loggers that could print secrets."""
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)
