"""The initial schema: complaints, audit events, contacts, timers, outbox, idempotency keys.

Revision ID: 0001
Revises:
"""

from alembic import context, op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The table prefix and schema are the host's choice, so the tables come from
    # build_tables(). The first later revision must freeze this shape here.
    tables = context.config.attributes["tables"]
    tables.metadata.create_all(op.get_bind())


def downgrade() -> None:
    tables = context.config.attributes["tables"]
    tables.metadata.drop_all(op.get_bind())
