"""kbsync's settings, read once from environment variables (each documented in README.md)."""

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kbsync_core.roles import RoleListError, RoleLists, parse_role_list

BACKENDS = ("aws", "sandbox")
# The names a browser may reach kbsync by, unless KBSYNC_ALLOWED_HOSTS says otherwise.
DEFAULT_ALLOWED_HOSTS = ("localhost", "127.0.0.1", "::1")
DEFAULT_DATABASE_URL = f"sqlite:///{Path('data') / 'kbsync.sqlite3'}"
# Named SQL sources of table jobs: this file beside app.py, when it is there.
DEFAULT_SOURCES_FILE = Path(__file__).resolve().parent.parent / "sources.toml"


class ConfigurationError(ValueError):
    """A setting has a value kbsync cannot use; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    backend: str = "sandbox"
    database_url: str = DEFAULT_DATABASE_URL
    poll_seconds: float = 4.0
    # GetIngestionJob calls per second per account that kbsync's replicas share (AWS's quota
    # is 10; less leaves room for other tools polling the same account).
    poll_quota: float = 10.0
    sandbox_speed: float = 1.0
    # Whether a request without keys may use a named profile or boto3's default chain (instance
    # role, env, ~/.aws). Off by default: on a shared server it would lend the server's identity
    # to anyone who can reach the console.
    allow_ambient_credentials: bool = False
    aws_max_attempts: int = 5
    aws_connect_timeout: float = 5.0
    aws_read_timeout: float = 30.0
    api_token: str | None = None
    # How long a replica's claim on a run lasts without renewal; another replica takes the run
    # over once it expired (its holder died). Renewed every third of it.
    lease_seconds: float = 30.0
    # Host header values the server answers for: names, `*.domain`, or `*` for any.
    allowed_hosts: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS
    # Who gets which role in the console once login is configured (kbsync_core/roles.py).
    roles: RoleLists = field(default_factory=RoleLists)
    # Fernet keys (comma-separated, the first encrypts, every one decrypts: a key can be
    # rotated) for what kbsync must store but never in plain: webhook URLs. None: on the
    # sandbox one is generated beside the database; on aws, nothing secret can be added.
    secret_key: str | None = field(default=None, repr=False)
    # The console's address as its users reach it (https://kbsync.example.com), for links in
    # notifications; None: messages carry no link.
    console_url: str | None = None
    # How often the scheduler looks for due slots (a slot fires within 10 s: keep it small).
    scheduler_tick_seconds: float = 1.0
    # Tests only: how much faster than real time the scheduler's clock runs (20: a minute's
    # cron fires every 3 s), so replicas can be checked over many slots in seconds.
    scheduler_clock_speed: float = 1.0
    # Calls per second per account to Bedrock's document operations (Ingest, Get and Delete
    # KnowledgeBaseDocuments) that kbsync's replicas share: Bedrock's quota is 5. Raised only
    # against a sped-up sandbox, whose quota is 5 per simulated second.
    ingest_rate: float = 5.0
    # The TOML file naming the SQL sources table jobs read (kbsync_core/tables/sources.py);
    # None: no file (on the sandbox, the sample source orders_db is there all the same).
    sources_file: Path | None = None

    @property
    def uses_sandbox(self) -> bool:
        return self.backend == "sandbox"


def _number(environ: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, not {raw!r}.") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum:g}, not {raw!r}.")
    return value


def _flag(environ: Mapping[str, str], name: str) -> bool:
    raw = environ.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigurationError(f"{name} must be true or false, not {raw!r}.")


def _host_patterns(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = environ.get(name, "").strip()
    if not raw:
        return DEFAULT_ALLOWED_HOSTS
    patterns = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    for pattern in patterns:
        wildcard = pattern.startswith("*.") and "*" not in pattern[2:]
        if pattern != "*" and not wildcard and ("*" in pattern or "/" in pattern or " " in pattern):
            raise ConfigurationError(
                f"{name} takes host names, *.domain patterns or *, separated by commas; "
                f"{pattern!r} is none of those."
            )
    return patterns


def _role_list(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    try:
        return parse_role_list(environ.get(name))
    except RoleListError as error:
        raise ConfigurationError(
            f"{name} takes e-mail addresses and @domain entries, separated by commas; {error}"
        ) from None


def _secret_key(environ: Mapping[str, str], name: str) -> str | None:
    """Fernet keys, comma-separated: each 32 bytes in URL-safe base64. The message never
    repeats the value."""
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    keys = [part.strip() for part in raw.split(",") if part.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            valid = len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32
        except (binascii.Error, UnicodeEncodeError, ValueError):
            valid = False
        if not valid:
            raise ConfigurationError(
                f"{name} must be Fernet keys (32 bytes in URL-safe base64, comma-separated); "
                f"key {position} is not one. Make one with: python -m kbsync secret-key"
            )
    return ",".join(keys)


def _base_url(environ: Mapping[str, str], name: str) -> str | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", raw):
        raise ConfigurationError(
            f"{name} must be the console's http(s) address, such as "
            f"https://kbsync.example.com, not {raw!r}."
        )
    return raw.rstrip("/")


def _sources_file(environ: Mapping[str, str], name: str) -> Path | None:
    """The sources file named, which must exist; else sources.toml beside app.py, if there."""
    raw = environ.get(name, "").strip()
    if not raw:
        return DEFAULT_SOURCES_FILE if DEFAULT_SOURCES_FILE.is_file() else None
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ConfigurationError(f"{name} names {raw!r}, which is not a readable file.")
    return path


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and check every KBSYNC_* variable; raise ConfigurationError naming a bad one."""
    environ = os.environ if environ is None else environ
    backend = environ.get("KBSYNC_BACKEND", "sandbox").strip().lower() or "sandbox"
    if backend not in BACKENDS:
        raise ConfigurationError(f"KBSYNC_BACKEND must be 'aws' or 'sandbox', not {backend!r}.")
    max_attempts = _number(environ, "KBSYNC_AWS_MAX_ATTEMPTS", 5, minimum=1)
    if max_attempts != int(max_attempts):
        raise ConfigurationError("KBSYNC_AWS_MAX_ATTEMPTS must be a whole number.")
    return Settings(
        backend=backend,
        database_url=environ.get("KBSYNC_DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL,
        poll_seconds=_number(environ, "KBSYNC_POLL_SECONDS", 4.0, minimum=0.01),
        poll_quota=_number(environ, "KBSYNC_POLL_QUOTA", 10.0, minimum=0.1),
        sandbox_speed=_number(environ, "KBSYNC_SANDBOX_SPEED", 1.0, minimum=0.01),
        allow_ambient_credentials=_flag(environ, "KBSYNC_ALLOW_AMBIENT_CREDENTIALS"),
        aws_max_attempts=int(max_attempts),
        aws_connect_timeout=_number(environ, "KBSYNC_AWS_CONNECT_TIMEOUT", 5.0, minimum=0.1),
        aws_read_timeout=_number(environ, "KBSYNC_AWS_READ_TIMEOUT", 30.0, minimum=0.1),
        api_token=environ.get("KBSYNC_API_TOKEN", "").strip() or None,
        lease_seconds=_number(environ, "KBSYNC_LEASE_SECONDS", 30.0, minimum=1),
        allowed_hosts=_host_patterns(environ, "KBSYNC_ALLOWED_HOSTS"),
        scheduler_tick_seconds=_number(environ, "KBSYNC_SCHEDULER_TICK_SECONDS", 1.0, minimum=0.05),
        scheduler_clock_speed=_number(environ, "KBSYNC_SCHEDULER_CLOCK_SPEED", 1.0, minimum=1),
        ingest_rate=_number(environ, "KBSYNC_INGEST_RATE", 5.0, minimum=0.1),
        roles=RoleLists(
            viewers=_role_list(environ, "KBSYNC_VIEWERS"),
            operators=_role_list(environ, "KBSYNC_OPERATORS"),
            admins=_role_list(environ, "KBSYNC_ADMINS"),
        ),
        secret_key=_secret_key(environ, "KBSYNC_SECRET_KEY"),
        console_url=_base_url(environ, "KBSYNC_CONSOLE_URL"),
        sources_file=_sources_file(environ, "KBSYNC_SOURCES_FILE"),
    )
