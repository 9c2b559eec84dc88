"""workflow_links: a child workflow started by a `workflow` node of its parent

One row per parent attempt that follows a child: (parent workflow, attempt token) -> child.
An attempt that took its running back after the child changed (a retry inside the child)
gets a row of its own for the same child. The child's parent is any of its rows.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workflow_links",
        sa.Column("parent_id", sa.String(length=32), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("node", sa.Text(), nullable=False),
        sa.Column("child_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["workflows.id"], name=op.f("fk_workflow_links_parent_id_workflows")
        ),
        sa.ForeignKeyConstraint(
            ["child_id"], ["workflows.id"], name=op.f("fk_workflow_links_child_id_workflows")
        ),
        sa.PrimaryKeyConstraint("parent_id", "token", name=op.f("pk_workflow_links")),
    )
    op.create_index("ix_workflow_links_child", "workflow_links", ["child_id"])
    op.create_index("ix_workflow_links_node", "workflow_links", ["parent_id", "node"])


def downgrade() -> None:
    op.drop_index("ix_workflow_links_node", table_name="workflow_links")
    op.drop_index("ix_workflow_links_child", table_name="workflow_links")
    op.drop_table("workflow_links")
