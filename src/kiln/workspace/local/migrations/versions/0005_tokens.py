"""Personal access tokens (stored as SHA-256 hashes).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from kiln.workspace.local.tables import MILLIS

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("token_id", sa.String, primary_key=True),
        sa.Column("token_hash", sa.String, nullable=False, unique=True),
        sa.Column("user", sa.String, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("created_at", MILLIS, nullable=False),
        sa.Column("expires_at", MILLIS, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("tokens")
