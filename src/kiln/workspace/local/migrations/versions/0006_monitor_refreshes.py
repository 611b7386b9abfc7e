"""Quality monitor refreshes in a table of their own (they were one JSON list per monitor
in workspace_info, rewritten whole at each refresh).

Revision ID: 0006
Revises: 0005
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PREFIX = "monitoring.refreshes."


def upgrade() -> None:
    table = op.create_table(
        "monitor_refreshes",
        sa.Column("monitor", sa.String, primary_key=True),
        sa.Column("refresh_id", sa.Integer, primary_key=True),
        sa.Column("doc", sa.Text, nullable=False),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT key, value FROM workspace_info WHERE key LIKE :p"),
                        {"p": PREFIX + "%"}).fetchall()
    moved = []
    for key, value in rows:
        for doc in json.loads(value or "[]"):
            moved.append({"monitor": key[len(PREFIX):], "refresh_id": int(doc["refresh_id"]),
                          "doc": json.dumps(doc)})
    if moved:
        op.bulk_insert(table, moved)
    conn.execute(sa.text("DELETE FROM workspace_info WHERE key LIKE :p"), {"p": PREFIX + "%"})


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT monitor, doc FROM monitor_refreshes "
                                "ORDER BY monitor, refresh_id")).fetchall()
    by_monitor: dict[str, list] = {}
    for monitor, doc in rows:
        by_monitor.setdefault(monitor, []).append(json.loads(doc))
    for monitor, docs in by_monitor.items():
        conn.execute(sa.text("INSERT INTO workspace_info (key, value) VALUES (:k, :v)"),
                     {"k": PREFIX + monitor, "v": json.dumps(docs)})
    op.drop_table("monitor_refreshes")
