"""The first workspace schema: objects, deploy locks and state, audit.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from kiln.workspace.local.tables import MILLIS

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workspace_info",
        sa.Column("key", sa.String, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "objects",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("id", sa.String, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("bundle_ref", sa.String, nullable=True),
        sa.Column("created_at", MILLIS, nullable=False),
        sa.Column("updated_at", MILLIS, nullable=False),
        sa.Column("creator", sa.String, nullable=False),
        sa.UniqueConstraint("kind", "id", name="uq_objects_kind_id"),
    )
    # at most one object per bundle address: concurrent deploys cannot duplicate a job
    op.create_index("ix_objects_bundle_ref", "objects", ["bundle_ref"], unique=True)
    op.create_index("ix_objects_kind_name", "objects", ["kind", "name"])
    op.create_table(
        "deploy_locks",
        sa.Column("state_id", sa.String, primary_key=True),
        sa.Column("lock_id", sa.String, nullable=False),
        sa.Column("holder", sa.String, nullable=False),
        sa.Column("host", sa.String, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("acquired_at", MILLIS, nullable=False),
    )
    op.create_table(
        "deploy_state",
        sa.Column("state_id", sa.String, primary_key=True),
        sa.Column("lineage", sa.String, nullable=False),
        sa.Column("serial", sa.Integer, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("updated_at", MILLIS, nullable=False),
    )
    op.create_table(
        "audit",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", MILLIS, nullable=False),
        sa.Column("user", sa.String, nullable=False),
        sa.Column("action", sa.String, nullable=False),
        sa.Column("target", sa.String, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("audit", "deploy_state", "deploy_locks", "objects", "workspace_info"):
        op.drop_table(table)
