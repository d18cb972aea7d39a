"""boto3 access to Bedrock: one client per (credentials, region), and AWS errors in plain words.

boto3 is used as its users expect: the standard AWS_* environment variables apply (endpoint
overrides such as AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_BEDROCK_AGENT included), retries use
botocore's adaptive mode, and clients are built once and reused: building one costs far more
than a call.
"""

import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import botocore.exceptions
import botocore.session
from botocore.config import Config
from botocore.credentials import DeferredRefreshableCredentials

from kbsync_core.config import Settings
from kbsync_core.errors import AwsRequestError
from kbsync_core.logsafety import forget_secret, install_log_redaction, remember_secret
from kbsync_core.models import AwsCredentials

BEDROCK_AGENT = "bedrock-agent"
S3 = "s3"
STS = "sts"
# How long an assumed role's keys last; botocore refreshes them 15 minutes before they expire.
ROLE_SESSION_SECONDS = 3600
ROLE_SESSION_NAME_PREFIX = "kbsync-"
USER_AGENT_EXTRA = "kbsync"
MAX_CLIENTS = 256

# Error codes AWS uses for "try again later": polling goes on through them.
TRANSIENT_ERROR_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalServerException",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
TRANSIENT_BOTOCORE_ERRORS = (
    # The endpoint unreachable, or a connect timeout.
    botocore.exceptions.ConnectionError,
    # Anything that broke the exchange midway: a read timeout, a connection closed or reset
    # by the peer, a proxy error. AWS may well have done the work; the caller retries safely.
    botocore.exceptions.HTTPClientError,
)


class AwsClients:
    """Builds and keeps bedrock-agent and S3 clients, one per (service, credentials, region);
    thread-safe.

    Clients for explicit keys all come from one botocore session, so the service model is
    loaded once (a session per key set cost ~10 MB each). The newest MAX_CLIENTS are kept: a
    server whose callers rotate temporary credentials must not grow without end.
    """

    def __init__(self, settings: Settings, caller_id: str | None = None):
        user_agent = USER_AGENT_EXTRA if caller_id is None else f"{USER_AGENT_EXTRA}/{caller_id}"
        self._config = Config(
            # total_max_attempts counts the first try too: 1 means no retry at all.
            retries={"mode": "adaptive", "total_max_attempts": settings.aws_max_attempts},
            connect_timeout=settings.aws_connect_timeout,
            read_timeout=settings.aws_read_timeout,
            # Which replica made a call, in AWS's (and the sandbox's) request logs.
            user_agent_extra=user_agent,
        )
        self._clients: OrderedDict[tuple, tuple[object, AwsCredentials]] = OrderedDict()
        self._lock = threading.Lock()
        self._shared_session: botocore.session.Session | None = None
        install_log_redaction()

    def bedrock_agent(self, credentials: AwsCredentials, region: str):
        return self.client(BEDROCK_AGENT, credentials, region)

    def s3(self, credentials: AwsCredentials, region: str):
        """An S3 client with the same credentials (a data source's bucket, read or written)."""
        return self.client(S3, credentials, region)

    def client(self, service: str, credentials: AwsCredentials, region: str):
        key = (service, credentials.cache_key, region)
        with self._lock:
            if key in self._clients:
                self._clients.move_to_end(key)
                return self._clients[key][0]
            remember_secret(credentials.secret_access_key, credentials.session_token)
            client = self._build(service, credentials, region)
            self._clients[key] = (client, credentials)
            if len(self._clients) > MAX_CLIENTS:
                _evicted, (_client, old_credentials) = self._clients.popitem(last=False)
                still_used = (kept.cache_key for _client, kept in self._clients.values())
                if old_credentials.cache_key not in still_used:
                    forget_secret(old_credentials.secret_access_key, old_credentials.session_token)
            return client

    def _build(self, service: str, credentials: AwsCredentials, region: str):
        if credentials.role_arn:
            session = assumed_role_session(credentials, region, config=self._config)
            return session.client(service, config=self._config)
        if not credentials.is_explicit:
            # A profile or the default chain: boto3 resolves it as it always does.
            session = boto3.Session(profile_name=credentials.profile_name, region_name=region)
            return session.client(service, config=self._config)
        if self._shared_session is None:
            self._shared_session = botocore.session.get_session()
        return self._shared_session.create_client(
            service,
            region_name=region,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            config=self._config,
        )

    def clear(self) -> None:
        with self._lock:
            self._clients.clear()


def assumed_role_session(
    credentials: AwsCredentials,
    region: str,
    *,
    config: Config | None = None,
    duration_seconds: int = ROLE_SESSION_SECONDS,
) -> boto3.Session:
    """A boto3 session acting as `credentials.role_arn`, assumed with STS from the server's
    own identity (boto3's default chain, or `credentials.profile_name`).

    botocore's DeferredRefreshableCredentials calls AssumeRole at the first request and again
    before the keys expire (its advisory and mandatory refresh windows); kbsync keeps no key.
    """
    base = boto3.Session(profile_name=credentials.profile_name, region_name=region)
    sts = base.client(STS, config=config)
    session_name = credentials.role_session_name or (
        ROLE_SESSION_NAME_PREFIX + uuid.uuid4().hex[:12]
    )

    # The keys of the two latest AssumeRole answers stay known to the log redaction (a request
    # signed with the previous ones may still be answering); older ones are forgotten, so the
    # list does not grow by one entry per refresh for as long as the process lives.
    issued: list[tuple[str, str]] = []

    def assume_role() -> dict:
        parameters = {
            "RoleArn": credentials.role_arn,
            "RoleSessionName": session_name,
            "DurationSeconds": duration_seconds,
        }
        if credentials.external_id:
            parameters["ExternalId"] = credentials.external_id
        answer = sts.assume_role(**parameters)["Credentials"]
        remember_secret(answer["SecretAccessKey"], answer["SessionToken"])
        issued.append((answer["SecretAccessKey"], answer["SessionToken"]))
        while len(issued) > 2:
            forget_secret(*issued.pop(0))
        return {
            "access_key": answer["AccessKeyId"],
            "secret_key": answer["SecretAccessKey"],
            "token": answer["SessionToken"],
            "expiry_time": answer["Expiration"].isoformat(),
        }

    botocore_session = botocore.session.get_session()
    # botocore has no public setter: get_credentials() answers what `_credentials` holds.
    botocore_session._credentials = DeferredRefreshableCredentials(
        refresh_using=assume_role, method="sts-assume-role"
    )
    return boto3.Session(botocore_session=botocore_session, region_name=region)


def aws_error_code(error: BaseException) -> str:
    """AWS's error code (`AccessDeniedException`), or the botocore error's class name."""
    if isinstance(error, botocore.exceptions.ClientError):
        return error.response.get("Error", {}).get("Code") or "ClientError"
    return type(error).__name__


def aws_error_message(error: BaseException) -> str:
    if isinstance(error, botocore.exceptions.ClientError):
        return error.response.get("Error", {}).get("Message") or str(error)
    return str(error)


def describe_aws_error(error: BaseException, credentials: AwsCredentials | None = None) -> str:
    """`<code>: <message>`, the words an operator can act on, with any secret removed."""
    text = f"{aws_error_code(error)}: {aws_error_message(error)}"
    return credentials.redact(text) if credentials else text


def is_transient(error: BaseException) -> bool:
    """True for errors where the same call may well succeed a little later."""
    if isinstance(error, TRANSIENT_BOTOCORE_ERRORS):
        return True
    if isinstance(error, botocore.exceptions.ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return aws_error_code(error) in TRANSIENT_ERROR_CODES or status >= 500
    return False


def is_aws_error(error: BaseException) -> bool:
    """Errors that come from talking to AWS (as opposed to bugs in kbsync)."""
    return isinstance(error, botocore.exceptions.BotoCoreError | botocore.exceptions.ClientError)


@contextmanager
def aws_errors_explained(credentials: AwsCredentials | None) -> Iterator[None]:
    """Where kbsync calls AWS for an operator: AWS's refusals and unreachable endpoints leave
    as AwsRequestError, in AWS's own words with `credentials`' secrets removed. The edges
    translate that one error; nothing of botocore's leaks past the core."""
    try:
        yield
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        raise AwsRequestError(
            describe_aws_error(error, credentials), aws_error_code(error)
        ) from None
