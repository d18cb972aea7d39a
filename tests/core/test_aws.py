import botocore.exceptions
import pytest

from kbsync_core.aws import AwsClients, describe_aws_error, is_transient
from kbsync_core.config import Settings
from kbsync_core.models import AwsCredentials

KEYS = AwsCredentials.from_keys("AKIAKBSYNCTESTKEY001", "secret-one")


def client_error(code: str, status: int, message: str = "went wrong"):
    return botocore.exceptions.ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "GetIngestionJob",
    )


def test_clients_are_reused_per_credentials_and_region():
    clients = AwsClients(Settings())
    first = clients.bedrock_agent(KEYS, "us-east-1")
    assert clients.bedrock_agent(KEYS, "us-east-1") is first
    assert clients.bedrock_agent(KEYS, "eu-west-1") is not first
    other_secret = AwsCredentials.from_keys("AKIAKBSYNCTESTKEY001", "secret-two")
    assert clients.bedrock_agent(other_secret, "us-east-1") is not first


def test_retries_and_timeouts_are_configured():
    settings = Settings(aws_max_attempts=3, aws_connect_timeout=2, aws_read_timeout=9)
    config = AwsClients(settings).bedrock_agent(KEYS, "us-east-1").meta.config
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 3}
    assert (config.connect_timeout, config.read_timeout) == (2, 9)


def test_the_standard_endpoint_variables_are_honoured(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENT", "http://127.0.0.1:4566")
    client = AwsClients(Settings()).bedrock_agent(KEYS, "us-east-1")
    assert client.meta.endpoint_url == "http://127.0.0.1:4566"


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (client_error("ThrottlingException", 429), True),
        (client_error("InternalServerException", 500), True),
        (client_error("SomethingNew", 503), True),
        (client_error("AccessDeniedException", 403), False),
        (client_error("ResourceNotFoundException", 404), False),
        (botocore.exceptions.ReadTimeoutError(endpoint_url="https://x"), True),
        (botocore.exceptions.EndpointConnectionError(endpoint_url="https://x"), True),
        (botocore.exceptions.NoCredentialsError(), False),
    ],
)
def test_transient_errors_are_told_apart(error, transient):
    assert is_transient(error) is transient


def test_errors_read_as_code_and_message_without_secrets():
    error = client_error("AccessDeniedException", 403, "not allowed for secret-one")
    assert describe_aws_error(error, KEYS) == "AccessDeniedException: not allowed for ****"
    assert describe_aws_error(botocore.exceptions.NoCredentialsError()) == (
        "NoCredentialsError: Unable to locate credentials"
    )


def test_an_aws_error_that_echoes_the_keys_repeats_none_of_them():
    keys = AwsCredentials.from_keys("AKIAKBSYNCECHO00001", "echoed-secret-0123456789", "TokEn")
    error = client_error(
        "UnrecognizedClientException", 403,
        "Credential=AKIAKBSYNCECHO00001/20261130 with echoed-secret-0123456789 and token TokEn",
    )
    assert describe_aws_error(error, keys) == (
        "UnrecognizedClientException: Credential=****/20261130 with **** and token ****"
    )
