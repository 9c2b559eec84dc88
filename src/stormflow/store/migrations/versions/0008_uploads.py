"""uploads: each upload node's figures and each file's stored parts (issue 16)

The uploader daemon and the local executor record here what they moved, part by part, so a
transfer killed mid-way resumes from the parts already stored, and the API, `storm uploads`
and the Monitor read progress from here.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "upload_nodes",
        sa.Column("workflow_id", sa.String(32), primary_key=True),
        sa.Column("node", sa.Text, primary_key=True),
        sa.Column("token", sa.Text),
        sa.Column("host", sa.Text),
        sa.Column("destination", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("files_total", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("files_done", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("files_skipped", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("bytes_total", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("bytes_done", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("bytes_saved", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("rate", sa.Double, nullable=False, server_default=sa.text("0")),
        sa.Column("error", sa.Text),
        sa.Column("updated_at", sa.Double, nullable=False),
    )
    op.create_table(
        "upload_files",
        sa.Column("workflow_id", sa.String(32), primary_key=True),
        sa.Column("node", sa.Text, primary_key=True),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("part_size", sa.BigInteger, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("hash", sa.Text),
        sa.Column("bytes_done", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("parts", Json, nullable=False),
        sa.Column("upload_id", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("updated_at", sa.Double, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("upload_files")
    op.drop_table("upload_nodes")
