"""Job runs.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from kiln.workspace.local.tables import MILLIS

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.Integer, nullable=False),
        sa.Column("life_cycle_state", sa.String, nullable=False),
        sa.Column("result_state", sa.String, nullable=True),
        sa.Column("doc", sa.Text, nullable=False),
        sa.Column("runner_host", sa.String, nullable=False),
        sa.Column("runner_pid", sa.Integer, nullable=False),
        sa.Column("cancel_requested", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", MILLIS, nullable=False),
        sa.Column("updated_at", MILLIS, nullable=False),
    )
    op.create_index("ix_runs_job_id", "runs", ["job_id"])


def downgrade() -> None:
    op.drop_table("runs")
