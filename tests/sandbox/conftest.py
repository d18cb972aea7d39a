"""Fixtures for the sandbox's own tests: a fast sandbox and real boto3 clients inside it."""

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.config import Config

from kbsync_sandbox import SANDBOX_REGION, Sandbox

FAST_SPEED = 200
# Any credentials work in the sandbox; these prove they are never recorded.
ACCESS_KEY_ID = "AKIAKBSYNCSANDBOX001"
SECRET_ACCESS_KEY = "sandboxTestSecret/DoNotRecord+0123456789abc"
SESSION_TOKEN = "sandboxTestSessionToken-DoNotRecord"
NO_RETRIES = Config(retries={"total_max_attempts": 1})
# Service models parsed once for the whole run: a fresh loader costs ~0.07 s per test.
SHARED_LOADER = botocore.loaders.create_loader()


def make_client(service, region=SANDBOX_REGION, access_key_id=ACCESS_KEY_ID, config=None):
    """A real boto3 client in a new session, as the sandbox needs (made after it started)."""
    session = botocore.session.Session()
    session.register_component("data_loader", SHARED_LOADER)
    return boto3.session.Session(botocore_session=session).client(
        service,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        aws_session_token=SESSION_TOKEN,
        config=config,
    )


@pytest.fixture
def sb():
    with Sandbox(speed=FAST_SPEED) as running:
        yield running


@pytest.fixture
def agent(sb):
    return make_client("bedrock-agent", config=NO_RETRIES)


@pytest.fixture
def s3(sb):
    return make_client("s3")
