"""Secrets leave text whatever their length, and ordinary words stay whole."""

import logging

import pytest

from kbsync_core import logsafety
from kbsync_core.logsafety import (
    REDACT_ANYWHERE_MIN_LENGTH,
    SecretRedactingFilter,
    forget_secret,
    redact_known_secrets,
    redact_secrets,
    remember_secret,
)
from kbsync_core.models import AwsCredentials

AWS_INVALID_TOKEN = (
    "UnrecognizedClientException: The security token included in the request is invalid; "
    "use the latest credentials"
)
LONG_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def known_secrets(monkeypatch):
    """An empty set of remembered secrets for the test: the process's own holds whatever
    other tests' clients remembered (a secret `secret`, say, which would redact "secret=")."""
    monkeypatch.setattr(logsafety, "_secrets", set())
    return remember_secret


def redactions(text: str, *secrets: str) -> list[str]:
    """What each of kbsync's redactions makes of `text`: they must all agree."""
    return [
        redact_secrets(text, secrets),
        AwsCredentials.from_keys("test", *secrets).redact(text),
    ]


def test_a_short_secret_inside_a_word_leaves_the_word_whole():
    assert redactions(AWS_INVALID_TOKEN, "test") == [AWS_INVALID_TOKEN] * 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("secret test refused", "secret **** refused"),
        ("test", "****"),
        ("(test)", "(****)"),
        ("key=test, tested, attest, test2, 2test", "key=****, tested, attest, test2, 2test"),
        (
            "Credential=test/20261130/us-east-1/bedrock/aws4_request",
            "Credential=****/20261130/us-east-1/bedrock/aws4_request",
        ),
    ],
)
def test_a_short_secret_standing_alone_is_removed(text, expected):
    assert redactions(text, "test") == [expected] * 2


def test_a_long_secret_is_removed_even_glued_inside_a_word():
    assert len(LONG_SECRET) >= REDACT_ANYWHERE_MIN_LENGTH
    text = f"prefix{LONG_SECRET}suffix and {LONG_SECRET}"
    assert redactions(text, LONG_SECRET) == ["prefix****suffix and ****"] * 2


@pytest.mark.parametrize("secret", ["a+b/c=", "x.y*", "(a|b)", "s3cr+t/=="])
def test_regex_metacharacters_in_a_secret_are_plain_characters(secret):
    text = f"header {secret} end; not {secret[0]}{secret[-1]}; glued z{secret}z"
    redacted = redact_secrets(text, [secret])
    assert secret not in redacted.replace(f"z{secret}z", "")
    assert redacted.startswith("header **** end; not ")
    assert redacted.endswith(f"glued z{secret}z")  # short, and letters touch it: kept
    long_secret = secret * REDACT_ANYWHERE_MIN_LENGTH
    assert redact_secrets(f"z{long_secret}z", [long_secret]) == "z****z"


def test_a_secret_that_contains_another_is_removed_whole():
    assert redact_secrets("token test-token-1 and test", ["test", "test-token-1"]) == (
        "token **** and ****"
    )


def test_no_secret_leaves_text_untouched():
    assert redact_secrets(AWS_INVALID_TOKEN, [None, ""]) == AWS_INVALID_TOKEN


def test_library_log_records_use_the_same_rule(known_secrets):
    known_secrets("test", LONG_SECRET)
    assert redact_known_secrets(AWS_INVALID_TOKEN) == AWS_INVALID_TOKEN
    record = logging.LogRecord(
        "botocore.auth", logging.DEBUG, __file__, 1,
        "Credential=%s/20261130 secret=%s latest", ("test", LONG_SECRET), None,
    )
    SecretRedactingFilter().filter(record)
    assert record.getMessage() == "Credential=****/20261130 secret=**** latest"
    forget_secret("test")
    assert redact_known_secrets("Credential=test/20261130") == "Credential=test/20261130"
