"""Alembic environment for a workspace's metadata database (run programmatically)."""

from alembic import context

from kiln.workspace.local.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
