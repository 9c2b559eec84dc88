"""client_versions: the version of each DCC integration that last talked to the server

The add-ons send `X-Storm-Client: <client>/<version>`; the plugins page compares the last
version seen with the one the server offers ("update available").

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "client_versions",
        sa.Column("integration", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("integration", name=op.f("pk_client_versions")),
    )


def downgrade() -> None:
    op.drop_table("client_versions")
