"""Keeps credentials out of log output that kbsync does not write itself.

botocore logs each signed request at DEBUG (headers, canonical request), and with them a session
token. An operator who turns DEBUG on to chase a problem must not find a credential in the
output, so every secret kbsync hands to boto3 is remembered here, in memory only, and removed
from the records of the libraries that could print it.

A secret may be as short as `test` (LocalStack's and ministack's), so it cannot simply be
replaced wherever it occurs: "latest" would become "la****". One rule, `redact_secrets`, serves
every place that removes secrets from text.
"""

import logging
import re
import threading
from collections.abc import Iterable

REDACTED = "****"
# A secret this long cannot be an ordinary word or a piece of one (AWS's are 40 characters,
# its session tokens hundreds), so it is removed wherever it stands, even glued inside other
# text. A shorter one is removed only where it stands as a whole token.
REDACT_ANYWHERE_MIN_LENGTH = 16
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


def redact_secrets(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with each of `secrets` replaced by ****: a long one wherever it stands, a short one
    (under REDACT_ANYWHERE_MIN_LENGTH) only where no letter or digit touches it on either side.

    The longest go first, so that a secret that contains another is removed whole.
    """
    for secret in sorted({secret for secret in secrets if secret}, key=len, reverse=True):
        if secret not in text:
            continue
        if len(secret) >= REDACT_ANYWHERE_MIN_LENGTH:
            text = text.replace(secret, REDACTED)
        else:
            text = _whole_token(secret).sub(REDACTED, text)
    return text


def _whole_token(secret: str) -> re.Pattern:
    # [^\W_] is a letter or a digit (any script's): \w without the underscore.
    return re.compile(rf"(?<![^\W_]){re.escape(secret)}(?![^\W_])")


def redact_known_secrets(text: str) -> str:
    with _secrets_lock:
        secrets = list(_secrets)
    return redact_secrets(text, secrets)


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
