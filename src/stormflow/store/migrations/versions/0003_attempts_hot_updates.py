"""attempts: the node index leaves out `snapshot`, and PostgreSQL pages keep room for updates

A retry that cascades to 100,000 nodes moves each node's attempts into its snapshot: one
`snapshot` column per attempt. With `snapshot` in an index every such update rewrote all
five of the table's indexes; without it, and with free room in the page (fillfactor 70),
PostgreSQL updates the row in place (a heap-only tuple) and SQLite touches no index.
The queries that read a node's current run filter `snapshot IS NULL` among its few rows.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_attempts_node", table_name="attempts")
    op.create_index("ix_attempts_node", "attempts", ["workflow_id", "node"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE attempts SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE attempts RESET (fillfactor)")
    op.drop_index("ix_attempts_node", table_name="attempts")
    op.create_index("ix_attempts_node", "attempts", ["workflow_id", "node", "snapshot"])
