"""Scoped API tokens: made and revoked with `python -m kbsync tokens`, checked by the JSON API.

A token is `kbs_` and 32 random bytes (secrets.token_urlsafe); the prefix lets a scanner spot
one in a leaked log. Only its SHA-256 is stored: a salted, slow hash (bcrypt, scrypt) protects
guessable passwords, but a 256-bit random token cannot be guessed whatever the hash, and a fast
hash lets every request look its token up by hash in one indexed read.

Every replica sees a new or revoked token without a restart: a token is looked up in the store
by its hash, and a positive answer is kept in memory for at most CACHE_SECONDS, so a new token
works at once (a miss always reads the store) and a revoked one stops within CACHE_SECONDS.
"""

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from kbsync_core.errors import KbsyncError
from kbsync_core.store.tokens import NameTakenError, TokenRecord, TokenStore
from kbsync_core.timefmt import iso_utc, parse_iso, utc_now

TOKEN_PREFIX = "kbs_"  # noqa: S105 - a prefix, not a secret
TOKEN_BYTES = 32
ALL_SCOPES = "*"
SYNC_READ = "sync:read"
SYNC_WRITE = "sync:write"
CONNECTIONS_READ = "connections:read"
CONNECTIONS_WRITE = "connections:write"
SCHEDULES_READ = "schedules:read"
SCHEDULES_WRITE = "schedules:write"
DATA_INGESTION_READ = "data-ingestion:read"
DATA_INGESTION_WRITE = "data-ingestion:write"
JOBS_READ = "jobs:read"
JOBS_WRITE = "jobs:write"
SCOPES = (
    SYNC_READ, SYNC_WRITE,
    CONNECTIONS_READ, CONNECTIONS_WRITE,
    SCHEDULES_READ, SCHEDULES_WRITE,
    DATA_INGESTION_READ, DATA_INGESTION_WRITE,
    JOBS_READ, JOBS_WRITE,
    ALL_SCOPES,
)
# How stale a replica's view of the tokens may be: the time a revocation takes to bite.
CACHE_SECONDS = 5.0
# A token's last use is written at most this often (not on every request).
LAST_USED_EVERY_SECONDS = 60.0
MAX_NAME_LENGTH = 64
# KBSYNC_API_TOKEN's principal: every scope.
ENVIRONMENT_TOKEN_NAME = "KBSYNC_API_TOKEN"  # noqa: S105 - a name


class TokenError(KbsyncError, ValueError):
    """A token cannot be made or revoked as asked; the message says why, for an operator."""


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a token's name, its scopes and the connections it may use (None:
    every one; enforced once kbsync has connections)."""

    name: str
    scopes: frozenset[str]
    connections: tuple[str, ...] | None = None
    expires_at: str | None = None

    def allows(self, scope: str) -> bool:
        return ALL_SCOPES in self.scopes or scope in self.scopes

    def expired_at(self, moment: datetime) -> bool:
        return self.expires_at is not None and parse_iso(self.expires_at) <= moment


@dataclass(frozen=True)
class TokenListing:
    """What `tokens list` shows of a token: never the token, nor its hash."""

    name: str
    scopes: tuple[str, ...]
    connections: tuple[str, ...] | None
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    scopes = tuple(dict.fromkeys(scope.strip() for scope in scopes if scope.strip()))
    if not scopes:
        raise TokenError(f"Give at least one scope: {', '.join(SCOPES)}.")
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise TokenError(f"Unknown scope {unknown[0]!r}; scopes: {', '.join(SCOPES)}.")
    return scopes


def check_expiry_days(days: float | None) -> float | None:
    if days is not None and not (math.isfinite(days) and days > 0):
        raise TokenError(f"The expiry must be a positive number of days, not {days!r}.")
    return days


class ApiTokens:
    """The tokens of one process: made, listed and revoked in the store, and checked against
    it (KBSYNC_API_TOKEN, when set, is one more token with every scope)."""

    def __init__(
        self,
        store: TokenStore,
        environment_token: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._store = store
        self._environment_token = environment_token
        self._clock = clock
        self._lock = threading.Lock()
        # token hash -> (principal, when it was read): positive answers only.
        self._known: dict[str, tuple[Principal, float]] = {}
        # token hash -> when this process last wrote its last use.
        self._touched: dict[str, float] = {}
        # Whether any token was ever made. Rows are never deleted, so True is final; False is
        # read again once CACHE_SECONDS old.
        self._any_made = False
        self._any_made_read_at = -math.inf

    # -- operators (the command line) -------------------------------------------------------

    def create(
        self,
        name: str,
        scopes: Iterable[str],
        *,
        expires_in_days: float | None = None,
        connections: Iterable[str] | None = None,
    ) -> str:
        """Make a token and return it: the only time it is ever shown."""
        name = name.strip()
        if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
            raise TokenError(f"A token's name is 1 to {MAX_NAME_LENGTH} printable characters.")
        scopes = check_scopes(scopes)
        check_expiry_days(expires_in_days)
        if connections is not None:
            connections = tuple(dict.fromkeys(c.strip() for c in connections if c.strip()))
        now = utc_now()
        token = new_token()
        record = TokenRecord(
            name=name,
            token_hash=hash_token(token),
            scopes=scopes,
            connections=connections or None,
            created_at=iso_utc(now),
            expires_at=(
                iso_utc(now + timedelta(days=expires_in_days)) if expires_in_days else None
            ),
            last_used_at=None,
            revoked_at=None,
        )
        try:
            self._store.insert(record)
        except NameTakenError:
            raise TokenError(f"A token named {name!r} exists already.") from None
        return token

    def list(self) -> list[TokenListing]:
        return [
            TokenListing(
                name=record.name,
                scopes=record.scopes,
                connections=record.connections,
                created_at=record.created_at,
                expires_at=record.expires_at,
                last_used_at=record.last_used_at,
                revoked_at=record.revoked_at,
            )
            for record in self._store.all()
        ]

    def revoke(self, name: str) -> None:
        if not self._store.revoke(name.strip(), iso_utc(utc_now())):
            raise TokenError(f"No token is named {name!r}.")

    # -- requests (the API) -----------------------------------------------------------------

    def required(self) -> bool:
        """Whether requests need a token: KBSYNC_API_TOKEN is set, or a token was ever made
        (a revoked or expired one too: revoking the last token must not open the API)."""
        if self._environment_token is not None or self._any_made:
            return True
        now = self._clock()
        if now - self._any_made_read_at >= CACHE_SECONDS:
            any_made = self._store.any_exist()
            with self._lock:
                self._any_made = self._any_made or any_made
                self._any_made_read_at = now
        return self._any_made

    def authenticate(self, presented: str | None) -> Principal | None:
        """The principal `presented` stands for; None for no token, or an unknown, revoked or
        expired one."""
        if not presented:
            return None
        if self._environment_token is not None and hmac.compare_digest(
            presented.encode("utf-8", "surrogatepass"), self._environment_token.encode()
        ):
            return Principal(ENVIRONMENT_TOKEN_NAME, frozenset({ALL_SCOPES}))
        token_hash = hash_token(presented)
        now = self._clock()
        principal = self._remembered(token_hash, now)
        if principal is None:
            principal = self._read(token_hash, now)
        if principal is None or principal.expired_at(utc_now()):
            return None
        self._note_use(token_hash, now)
        return principal

    def answers_from_memory(self, presented: str | None) -> bool:
        """Whether required() and authenticate(presented) would answer without touching the
        store (so an event loop may call them)."""
        now = self._clock()
        if not (
            self._environment_token is not None
            or self._any_made
            or now - self._any_made_read_at < CACHE_SECONDS
        ):
            return False
        if not presented or presented == self._environment_token:
            return True
        token_hash = hash_token(presented)
        return (
            self._remembered(token_hash, now) is not None
            and now - self._touched.get(token_hash, -math.inf) < LAST_USED_EVERY_SECONDS
        )

    def _remembered(self, token_hash: str, now: float) -> Principal | None:
        kept = self._known.get(token_hash)
        if kept is None or now - kept[1] >= CACHE_SECONDS:
            return None
        return kept[0]

    def _read(self, token_hash: str, now: float) -> Principal | None:
        record = self._store.find_by_hash(token_hash)
        # The lookup was by hash; comparing the hashes again costs nothing and takes the same
        # time whatever they hold.
        if (
            record is None
            or record.revoked_at is not None
            or not hmac.compare_digest(record.token_hash, token_hash)
        ):
            with self._lock:
                self._known.pop(token_hash, None)
            return None
        principal = Principal(
            record.name, frozenset(record.scopes), record.connections, record.expires_at
        )
        with self._lock:
            self._known[token_hash] = (principal, now)
            self._any_made = True
        return principal

    def _note_use(self, token_hash: str, now: float) -> None:
        if now - self._touched.get(token_hash, -math.inf) < LAST_USED_EVERY_SECONDS:
            return
        with self._lock:
            self._touched[token_hash] = now
        moment = utc_now()
        self._store.touch(
            token_hash,
            iso_utc(moment),
            unless_since=iso_utc(moment - timedelta(seconds=LAST_USED_EVERY_SECONDS)),
        )
