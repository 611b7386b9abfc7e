"""Identities (users, groups, service principals), group membership and Unity Catalog
grants, each in a table of its own.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from kiln.workspace.local.tables import MILLIS

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "principals",
        sa.Column("name", sa.String, primary_key=True),  # user name, group name, SP name
        sa.Column("kind", sa.String, nullable=False),  # USER | GROUP | SERVICE_PRINCIPAL
        sa.Column("display_name", sa.String, nullable=True),
        sa.Column("active", sa.Integer, nullable=False),
        sa.Column("created_at", MILLIS, nullable=False),
    )
    op.create_table(
        "group_members",
        sa.Column("group_name", sa.String, primary_key=True),
        sa.Column("member", sa.String, primary_key=True),
    )
    op.create_index("ix_group_members_member", "group_members", ["member"])
    op.create_table(
        "grants",
        sa.Column("securable_type", sa.String, primary_key=True),  # catalog, schema, ...
        sa.Column("full_name", sa.String, primary_key=True),
        sa.Column("principal", sa.String, primary_key=True),
        sa.Column("privilege", sa.String, primary_key=True),
    )
    # every token's user is a user of the workspace
    conn = op.get_bind()
    users = [r[0] for r in conn.execute(sa.text('SELECT DISTINCT "user" FROM tokens'))]
    for name in users:
        conn.execute(sa.text("INSERT INTO principals VALUES (:n, 'USER', NULL, 1, 0)"),
                     {"n": name})


def downgrade() -> None:
    op.drop_table("grants")
    op.drop_index("ix_group_members_member", "group_members")
    op.drop_table("group_members")
    op.drop_table("principals")
