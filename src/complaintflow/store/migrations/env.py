"""Alembic environment of complaintflow's own tables (run through complaintflow.store)."""

from alembic import context

config = context.config
tables = config.attributes["tables"]
connection = config.attributes["connection"]

context.configure(
    connection=connection,
    target_metadata=tables.metadata,
    version_table=tables.version_table,
    version_table_schema=tables.schema,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
