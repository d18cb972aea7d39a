"""kbsync's command line.

    python -m kbsync db upgrade     bring KBSYNC_DATABASE_URL's schema to this release's newest
    python -m kbsync db revision    print the schema revision the database is at
    python -m kbsync tokens create --name NAME --scopes SCOPE[,SCOPE...]
                                   [--expires-in DAYS] [--connections a,b]
                                    make an API token; it is printed once, as the last line
    python -m kbsync tokens list    every token's name, scopes, dates (never the token)
    python -m kbsync tokens revoke NAME
                                    refuse the token from now on (within 5 s on every replica)
    python -m kbsync secret-key     print a new key for KBSYNC_SECRET_KEY (webhook URLs are
                                    stored encrypted with it; give every replica the same)

kbsync upgrades its database at start-up by itself (under a lock, one process at a time);
`db upgrade` does it alone, e.g. before replicas of a new release are rolled out. The tokens
commands read the server's environment (KBSYNC_DATABASE_URL), and upgrade it first too.
"""

import argparse
import sys

from kbsync_core.config import ConfigurationError, load_settings
from kbsync_core.secretbox import new_secret_key
from kbsync_core.store import ExecutionStore
from kbsync_core.store.database import (
    DatabaseError,
    create_database_engine,
    current_revision,
    upgrade_schema,
)
from kbsync_core.tokens import SCOPES, ApiTokens, TokenError, TokenListing


def database_command(action: str) -> int:
    settings = load_settings()
    engine = create_database_engine(settings.database_url)
    try:
        if action == "upgrade":
            upgrade_schema(engine)
        print(current_revision(engine) or "empty (no kbsync schema yet)")
    finally:
        engine.dispose()
    return 0


def comma_list(text: str | None) -> list[str] | None:
    return None if text is None else [part for part in text.split(",") if part.strip()]


def expiry_days(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise TokenError(f"--expires-in takes a number of days, not {text!r}.") from None


def describe(token: TokenListing) -> str:
    return "  ".join(
        [
            token.name,
            f"scopes={','.join(token.scopes)}",
            f"connections={','.join(token.connections) if token.connections else 'all'}",
            f"created={token.created_at}",
            f"expires={token.expires_at or 'never'}",
            f"last-used={token.last_used_at or 'never'}",
            f"revoked={token.revoked_at or 'no'}",
        ]
    )


def tokens_command(arguments: argparse.Namespace) -> int:
    store = ExecutionStore(load_settings().database_url)
    try:
        tokens = ApiTokens(store.tokens)
        if arguments.action == "create":
            token = tokens.create(
                arguments.name,
                comma_list(arguments.scopes) or [],
                expires_in_days=expiry_days(arguments.expires_in),
                connections=comma_list(arguments.connections),
            )
            print(f"Token {arguments.name!r} made. It is shown this once: keep it now.")
            print(token)
        elif arguments.action == "list":
            for listed in tokens.list():
                print(describe(listed))
        else:
            tokens.revoke(arguments.name)
            print(f"Token {arguments.name!r} revoked.")
    finally:
        store.close()
    return 0


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kbsync", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    database = commands.add_parser("db", help="the database's schema (KBSYNC_DATABASE_URL)")
    database.add_argument("action", choices=["upgrade", "revision"])
    tokens = commands.add_parser("tokens", help="the JSON API's tokens")
    actions = tokens.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="make a token and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--scopes", required=True, help=f"comma-separated: {', '.join(SCOPES)}")
    # A string, checked by kbsync: argparse's own refusal would print a usage block.
    create.add_argument("--expires-in", metavar="DAYS", help="days (fractions too); default never")
    create.add_argument("--connections", help="comma-separated connection names; default all")
    actions.add_parser("list", help="every token, never the token itself")
    revoke = actions.add_parser("revoke", help="refuse a token from now on")
    revoke.add_argument("name")
    commands.add_parser("secret-key", help="print a new key for KBSYNC_SECRET_KEY")
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    try:
        if arguments.command == "tokens":
            return tokens_command(arguments)
        if arguments.command == "secret-key":
            # Only the key, on its own line: `export KBSYNC_SECRET_KEY=$(python -m kbsync
            # secret-key)` works as it is.
            print(new_secret_key())
            return 0
        return database_command(arguments.action)
    except (ConfigurationError, DatabaseError, TokenError) as error:
        print(f"kbsync: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
