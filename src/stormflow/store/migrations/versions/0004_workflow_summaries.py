"""workflows: the summary (derived status, nodes per status) kept by every transaction

The scheduler found work by reading every unarchived workflow's nodes on every rescan, and
the list computed each workflow's summary from its nodes: both grew with the workflows kept
(issue 19: 900 held workflows made a fan-out 31x slower; the list took seconds). The
summary now lives on the workflow's row, written by the transactions that change its nodes,
and two indexes serve the list (newest first, by status) and "workflows with work".
`archived_at` records when a workflow was archived, for retention (`storm prune`).

Existing workflows are summarized here from their nodes; a workflow with open nodes and
none running is "running" when one of them may run (all its upstream nodes ready), as
`derive_status` says.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

STATUSES = ("open", "holding", "running", "succeeded", "skipped", "failed", "canceled")
READY = ("succeeded", "skipped")
BAD = ("failed", "canceled")


def _derive(counts: dict[str, int], runnable: bool) -> str:
    if counts.get("running", 0) > 0 or runnable:
        return "running"
    if sum(counts.get(s, 0) for s in READY) == sum(counts.values()):
        return "succeeded"
    if any(counts.get(s, 0) for s in BAD):
        return "failed"
    return "holding"


def _runnable(conn: sa.Connection, workflow_id: str) -> bool:
    statuses: dict[str, str] = {
        str(name): str(status)
        for name, status in conn.execute(
            sa.text("SELECT name, status FROM nodes WHERE workflow_id = :w"), {"w": workflow_id}
        )
    }
    blocked: set[str] = set()
    for up, down in conn.execute(
        sa.text("SELECT upstream, downstream FROM edges WHERE workflow_id = :w"), {"w": workflow_id}
    ):
        if statuses.get(up, "open") not in READY:
            blocked.add(down)
    return any(s == "open" and n not in blocked for n, s in statuses.items())


def upgrade() -> None:
    op.add_column(
        "workflows",
        sa.Column("status", sa.String(16), nullable=False, server_default=sa.text("'succeeded'")),
    )
    for s in STATUSES:
        op.add_column(
            "workflows",
            sa.Column(f"count_{s}", sa.Integer(), nullable=False, server_default=sa.text("0")),
        )
    op.add_column("workflows", sa.Column("archived_at", sa.Double(), nullable=True))
    op.create_index("ix_workflows_list", "workflows", ["archived", "created_at", "id"])
    op.create_index("ix_workflows_status", "workflows", ["archived", "status", "created_at", "id"])
    op.create_index("ix_workflows_archived_at", "workflows", ["archived_at"])

    conn = op.get_bind()
    counts: defaultdict[str, dict[str, int]] = defaultdict(dict)
    for workflow_id, status, n in conn.execute(
        sa.text("SELECT workflow_id, status, count(*) FROM nodes GROUP BY workflow_id, status")
    ):
        counts[workflow_id][status] = int(n)
    for (workflow_id,) in conn.execute(sa.text("SELECT id FROM workflows")).all():
        found = counts.get(workflow_id, {})
        ambiguous = not found.get("running") and found.get("open")
        status = _derive(found, bool(ambiguous) and _runnable(conn, workflow_id))
        values = {f"count_{s}": found.get(s, 0) for s in STATUSES}
        sets = ", ".join(f"{column} = :{column}" for column in values)
        conn.execute(
            sa.text(f"UPDATE workflows SET status = :status, {sets} WHERE id = :id"),
            {"status": status, "id": workflow_id, **values},
        )
    # archived ones: archived when their last archive event says (else when created)
    conn.execute(
        sa.text(
            "UPDATE workflows SET archived_at = coalesce((SELECT max(e.at) FROM events e"
            " WHERE e.workflow_id = workflows.id AND e.type = 'archive'), created_at)"
            " WHERE archived"
        )
    )


def downgrade() -> None:
    op.drop_index("ix_workflows_archived_at", table_name="workflows")
    op.drop_column("workflows", "archived_at")
    op.drop_index("ix_workflows_status", table_name="workflows")
    op.drop_index("ix_workflows_list", table_name="workflows")
    for s in reversed(STATUSES):
        op.drop_column("workflows", f"count_{s}")
    op.drop_column("workflows", "status")
