"""The api_tokens table: rows by name or by hash; the token itself is never here."""

from dataclasses import dataclass

import sqlalchemy as sa

from kbsync_core.store.schema import api_tokens_table


@dataclass(frozen=True)
class TokenRecord:
    name: str
    token_hash: str
    scopes: tuple[str, ...]
    connections: tuple[str, ...] | None
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None


class NameTakenError(ValueError):
    """Another token (revoked ones included) has that name."""


class TokenStore:
    """One short statement per operation, under the store's locks (see ExecutionStore)."""

    def __init__(self, engine: sa.engine.Engine, write_lock, read_lock):
        self._engine = engine
        self._write_lock = write_lock
        self._read_lock = read_lock

    def insert(self, record: TokenRecord) -> None:
        row = {
            **record.__dict__,
            "scopes": list(record.scopes),
            "connections": None if record.connections is None else list(record.connections),
        }
        try:
            with self._write_lock, self._engine.begin() as connection:
                connection.execute(api_tokens_table.insert().values(**row))
        except sa.exc.IntegrityError:
            raise NameTakenError(record.name) from None

    def all(self) -> list[TokenRecord]:
        query = sa.select(api_tokens_table).order_by(api_tokens_table.c.created_at)
        with self._read_lock, self._engine.connect() as connection:
            return [_record(row) for row in connection.execute(query).mappings()]

    def find_by_hash(self, token_hash: str) -> TokenRecord | None:
        query = sa.select(api_tokens_table).where(api_tokens_table.c.token_hash == token_hash)
        with self._read_lock, self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return _record(row) if row else None

    def any_exist(self) -> bool:
        query = sa.select(api_tokens_table.c.id).limit(1)
        with self._read_lock, self._engine.connect() as connection:
            return connection.execute(query).first() is not None

    def revoke(self, name: str, revoked_at: str) -> bool:
        """False when no token has that name (revoking twice keeps the first time)."""
        statement = (
            api_tokens_table.update()
            .where(api_tokens_table.c.name == name)
            .values(revoked_at=sa.func.coalesce(api_tokens_table.c.revoked_at, revoked_at))
        )
        with self._write_lock, self._engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def touch(self, token_hash: str, used_at: str, unless_since: str) -> None:
        """Record a use, unless one was recorded at `unless_since` or later (another replica
        may have just done it): at most one write per token and interval, whoever writes."""
        statement = (
            api_tokens_table.update()
            .where(
                api_tokens_table.c.token_hash == token_hash,
                sa.or_(
                    api_tokens_table.c.last_used_at.is_(None),
                    api_tokens_table.c.last_used_at < unless_since,
                ),
            )
            .values(last_used_at=used_at)
        )
        with self._write_lock, self._engine.begin() as connection:
            connection.execute(statement)


def _record(row) -> TokenRecord:
    connections = row["connections"]
    return TokenRecord(
        name=row["name"],
        token_hash=row["token_hash"],
        scopes=tuple(row["scopes"]),
        connections=None if connections is None else tuple(connections),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )
