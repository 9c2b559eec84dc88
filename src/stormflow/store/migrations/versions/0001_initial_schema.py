"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-25 08:02:00.669998
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "limits",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_limits")),
    )
    op.create_table(
        "requests",
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("workflow_id", sa.String(length=32), nullable=True),
        sa.Column(
            "response", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("first_seq", sa.Integer(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("idempotency_key", name=op.f("pk_requests")),
    )
    op.create_table(
        "workflows",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "metadata", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=True),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workflow_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("node", sa.Text(), nullable=True),
        sa.Column("old", sa.String(length=16), nullable=True),
        sa.Column("new", sa.String(length=16), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("why", sa.Text(), nullable=True),
        sa.Column("caused_by", sa.Text(), nullable=True),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("correlation", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workflow_id"], ["workflows.id"], name=op.f("fk_events_workflow_id_workflows")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_events_idempotency_key")),
        sa.UniqueConstraint("workflow_id", "seq", name="uq_events_seq"),
    )
    op.create_table(
        "limit_usage",
        sa.Column("limit", sa.Text(), nullable=False),
        sa.Column("workflow_id", sa.String(length=32), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["limit"], ["limits.name"], name=op.f("fk_limit_usage_limit_limits"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("limit", "workflow_id", "token", name=op.f("pk_limit_usage")),
    )
    with op.batch_alter_table("limit_usage", schema=None) as batch_op:
        batch_op.create_index("ix_limit_usage_attempt", ["workflow_id", "token"], unique=False)

    op.create_table(
        "nodes",
        sa.Column("workflow_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted", sa.String(length=16), nullable=False),
        sa.Column("base", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column(
            "patch", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("snapshot_count", sa.Integer(), nullable=False),
        sa.Column("attempt_seq", sa.Integer(), nullable=False),
        sa.Column("group", sa.Text(), nullable=True),
        sa.Column("frames", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workflow_id"], ["workflows.id"], name=op.f("fk_nodes_workflow_id_workflows")
        ),
        sa.PrimaryKeyConstraint("workflow_id", "name", name=op.f("pk_nodes")),
    )
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.create_index("ix_nodes_workflow_status", ["workflow_id", "status"], unique=False)

    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workflow_id", sa.String(length=32), nullable=False),
        sa.Column("node", sa.Text(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("not_before", sa.Double(), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=True),
        sa.Column("ended_at", sa.Double(), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("worker", sa.Text(), nullable=True),
        sa.Column("log", sa.Text(), nullable=True),
        sa.Column("snapshot", sa.Integer(), nullable=True),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("lease_expires", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workflow_id", "node"], ["nodes.workflow_id", "nodes.name"], name="fk_attempts_node"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
        sa.UniqueConstraint("workflow_id", "token", name="uq_attempts_token"),
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_attempts_leased",
            ["lease_expires"],
            unique=False,
            sqlite_where=sa.text("result IS NULL AND lease_owner IS NOT NULL"),
            postgresql_where=sa.text("result IS NULL AND lease_owner IS NOT NULL"),
        )
        batch_op.create_index("ix_attempts_node", ["workflow_id", "node", "snapshot"], unique=False)
        batch_op.create_index("ix_attempts_owner", ["lease_owner"], unique=False)
        batch_op.create_index(
            "ix_attempts_pending",
            ["not_before"],
            unique=False,
            sqlite_where=sa.text("result IS NULL AND lease_owner IS NULL"),
            postgresql_where=sa.text("result IS NULL AND lease_owner IS NULL"),
        )

    op.create_table(
        "edges",
        sa.Column("workflow_id", sa.String(length=32), nullable=False),
        sa.Column("upstream", sa.Text(), nullable=False),
        sa.Column("downstream", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_id", "downstream"],
            ["nodes.workflow_id", "nodes.name"],
            name="fk_edges_downstream",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id", "upstream"],
            ["nodes.workflow_id", "nodes.name"],
            name="fk_edges_upstream",
        ),
        sa.PrimaryKeyConstraint("workflow_id", "upstream", "downstream", name=op.f("pk_edges")),
    )
    with op.batch_alter_table("edges", schema=None) as batch_op:
        batch_op.create_index(
            "ix_edges_downstream", ["workflow_id", "downstream", "upstream"], unique=False
        )

    op.create_table(
        "snapshots",
        sa.Column("workflow_id", sa.String(length=32), nullable=False),
        sa.Column("node", sa.Text(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column(
            "patch", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("caused_by", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workflow_id", "node"], ["nodes.workflow_id", "nodes.name"], name="fk_snapshots_node"
        ),
        sa.PrimaryKeyConstraint("workflow_id", "node", "number", name=op.f("pk_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("snapshots")
    with op.batch_alter_table("edges", schema=None) as batch_op:
        batch_op.drop_index("ix_edges_downstream")

    op.drop_table("edges")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_attempts_pending",
            sqlite_where=sa.text("result IS NULL AND lease_owner IS NULL"),
            postgresql_where=sa.text("result IS NULL AND lease_owner IS NULL"),
        )
        batch_op.drop_index("ix_attempts_owner")
        batch_op.drop_index("ix_attempts_node")
        batch_op.drop_index(
            "ix_attempts_leased",
            sqlite_where=sa.text("result IS NULL AND lease_owner IS NOT NULL"),
            postgresql_where=sa.text("result IS NULL AND lease_owner IS NOT NULL"),
        )

    op.drop_table("attempts")
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.drop_index("ix_nodes_workflow_status")

    op.drop_table("nodes")
    with op.batch_alter_table("limit_usage", schema=None) as batch_op:
        batch_op.drop_index("ix_limit_usage_attempt")

    op.drop_table("limit_usage")
    op.drop_table("events")
    op.drop_table("workflows")
    op.drop_table("requests")
    op.drop_table("limits")
