"""kbsync's command line.

    python -m kbsync db upgrade     bring KBSYNC_DATABASE_URL's schema to this release's newest
    python -m kbsync db revision    print the schema revision the database is at

kbsync upgrades its database at start-up by itself (under a lock, one process at a time);
`db upgrade` does it alone, e.g. before replicas of a new release are rolled out.
"""

import argparse
import sys

from kbsync_core.config import ConfigurationError, load_settings
from kbsync_core.store.database import (
    DatabaseError,
    create_database_engine,
    current_revision,
    upgrade_schema,
)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kbsync", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    database = commands.add_parser("db", help="the database's schema (KBSYNC_DATABASE_URL)")
    database.add_argument("action", choices=["upgrade", "revision"])
    arguments = parser.parse_args(argv)
    try:
        return database_command(arguments.action)
    except (ConfigurationError, DatabaseError) as error:
        print(f"kbsync: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
