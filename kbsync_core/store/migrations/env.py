"""Alembic's entry: kbsync runs migrations on a connection it opened and locked itself
(kbsync_core/store/database.py), handed over in the config's attributes."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
