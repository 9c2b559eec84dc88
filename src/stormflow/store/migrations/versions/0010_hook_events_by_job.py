"""hook events by job: a submit's answer finds the events that came before it

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_hook_events_job", "hook_events", ["provider", "external_id"])


def downgrade() -> None:
    op.drop_index("ix_hook_events_job", table_name="hook_events")
