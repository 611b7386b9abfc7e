"""Secret scopes.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from kiln.workspace.local.tables import MILLIS

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("scope", sa.String, nullable=False),
        sa.Column("key", sa.String, nullable=False),
        sa.Column("value", sa.Text, nullable=True),  # NULL marks an empty scope
        sa.Column("updated_at", MILLIS, nullable=False),
        sa.PrimaryKeyConstraint("scope", "key"),
    )


def downgrade() -> None:
    op.drop_table("secrets")
