"""What kbsync must keep but never in plain (webhook URLs): encrypted with Fernet.

The key comes from KBSYNC_SECRET_KEY (config.py checks it), as Airflow's fernet_key does:
every replica is given the same one. Several keys, comma-separated, allow a rotation: the first
encrypts, any of them decrypts. On the sandbox with no key set, one is generated into a file
beside the SQLite database (mode 0600), so `make run` needs nothing; on aws with no key there is
no box, and whatever needs one is refused with a message saying how to make a key.
"""

import os
import time
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from kbsync_core.config import DEFAULT_DATABASE_URL, Settings

GENERATED_KEY_FILE = "kbsync-secret.key"
KEY_FILE_WAIT_TRIES = 40
KEY_FILE_WAIT_SECONDS = 0.05
MAKE_A_KEY = (
    "set KBSYNC_SECRET_KEY on every replica to a key made with: python -m kbsync secret-key"
)


def _written_key(path: Path) -> str:
    """The key another process generated, once it has written it (it may be writing now)."""
    for _ in range(KEY_FILE_WAIT_TRIES):
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(KEY_FILE_WAIT_SECONDS)
    raise SecretUnreadableError(f"{path} is empty: delete it, and a key is generated again.")


class SecretUnreadableError(RuntimeError):
    """A stored secret cannot be decrypted: it was encrypted with a key no longer given."""


def new_secret_key() -> str:
    return Fernet.generate_key().decode("ascii")


class SecretBox:
    """Encrypts and decrypts short texts; its repr shows no key."""

    def __init__(self, keys: str):
        self._fernet = MultiFernet([Fernet(key.strip()) for key in keys.split(",")])

    def __repr__(self) -> str:
        return "SecretBox(<keys hidden>)"

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken:
            raise SecretUnreadableError(
                "A stored secret cannot be decrypted with KBSYNC_SECRET_KEY: it was stored "
                "with another key (give the old one after the new, comma-separated)."
            ) from None


def generated_key_path(database_url: str) -> Path | None:
    """Where the sandbox keeps the key it generated: beside its SQLite file (beside the
    default one for a PostgreSQL database); None for an in-memory database, whose secrets
    die with it anyway."""
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() != "sqlite":
        url = sa.engine.make_url(DEFAULT_DATABASE_URL)
    if url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).parent / GENERATED_KEY_FILE


def load_secret_box(settings: Settings) -> SecretBox | None:
    """The process's box: KBSYNC_SECRET_KEY's, or on the sandbox a generated key's; None on
    aws without a key."""
    if settings.secret_key:
        return SecretBox(settings.secret_key)
    if not settings.uses_sandbox:
        return None
    path = generated_key_path(settings.database_url)
    if path is None:
        return SecretBox(new_secret_key())
    return SecretBox(_read_or_create_key(path))


def _read_or_create_key(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of two processes starting at once, one writes the key, the other reads it.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _written_key(path)
    key = new_secret_key()
    with os.fdopen(descriptor, "w") as key_file:
        key_file.write(key + "\n")
    return key
