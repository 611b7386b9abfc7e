"""Lineage: which job runs and MLflow runs read and wrote which table versions.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from kiln.workspace.local.tables import MILLIS

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lineage",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", MILLIS, nullable=False),
        sa.Column("entity", sa.String, nullable=False),
        sa.Column("version", sa.String, nullable=True),
        sa.Column("op", sa.String, nullable=False),
        sa.Column("job_run_id", sa.Integer, nullable=True),
        sa.Column("task_key", sa.String, nullable=True),
        sa.Column("mlflow_run_id", sa.String, nullable=True),
    )
    op.create_index("ix_lineage_entity", "lineage", ["entity"])
    op.create_index("ix_lineage_job_run", "lineage", ["job_run_id"])
    op.create_index("ix_audit_target", "audit", ["target"])


def downgrade() -> None:
    op.drop_index("ix_audit_target", "audit")
    op.drop_table("lineage")
