import pytest

from kbsync_core.config import DEFAULT_DATABASE_URL, ConfigurationError, load_settings


def test_defaults_run_on_the_sandbox():
    settings = load_settings({})
    assert settings.backend == "sandbox"
    assert settings.poll_seconds == 4
    assert settings.sandbox_speed == 1
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert not settings.allow_ambient_credentials


def test_values_are_read():
    settings = load_settings(
        {
            "KBSYNC_BACKEND": "AWS",
            "KBSYNC_DATABASE_URL": "sqlite:///tmp/x.db",
            "KBSYNC_POLL_SECONDS": "0.5",
            "KBSYNC_SANDBOX_SPEED": "20",
            "KBSYNC_ALLOW_AMBIENT_CREDENTIALS": "yes",
            "KBSYNC_API_TOKEN": "t0ken",
        }
    )
    assert settings.backend == "aws"
    assert settings.database_url == "sqlite:///tmp/x.db"
    assert settings.poll_seconds == 0.5
    assert settings.sandbox_speed == 20
    assert settings.allow_ambient_credentials
    assert settings.api_token == "t0ken"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KBSYNC_BACKEND", "azure"),
        ("KBSYNC_POLL_SECONDS", "soon"),
        ("KBSYNC_POLL_SECONDS", "0"),
        ("KBSYNC_SANDBOX_SPEED", "-1"),
        ("KBSYNC_ALLOW_AMBIENT_CREDENTIALS", "maybe"),
        ("KBSYNC_AWS_MAX_ATTEMPTS", "2.5"),
    ],
)
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(ConfigurationError, match=name):
        load_settings({name: value})
