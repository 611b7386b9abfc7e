"""Typed stores for what the key-value settings held: each schedule's last fire (claimed
atomically, so two schedulers never fire one schedule twice), each serving endpoint's
state, the model policy (one record, where it was two formats), and each monitor's
computed windows.

Revision ID: 0008
Revises: 0007
"""

import json

import sqlalchemy as sa
from alembic import op

from kiln.workspace.local.tables import MILLIS

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    fires = op.create_table(
        "schedule_fires",
        sa.Column("job_id", sa.String, primary_key=True),
        sa.Column("last_fire", MILLIS, nullable=False),
    )
    states = op.create_table(
        "endpoint_states",
        sa.Column("name", sa.String, primary_key=True),
        sa.Column("doc", sa.Text, nullable=False),
    )
    policy = op.create_table(
        "model_policy",
        sa.Column("id", sa.Integer, primary_key=True),  # one row: 1
        sa.Column("require_approval", sa.Text, nullable=False),  # aliases, comma-separated
        sa.Column("replay_min_agreement", sa.Float, nullable=True),
    )
    windows = op.create_table(
        "monitor_windows",
        sa.Column("monitor", sa.String, primary_key=True),
        sa.Column("granularity", sa.String, primary_key=True),
        sa.Column("window_start", sa.String, primary_key=True),
    )
    conn = op.get_bind()
    rows = dict(conn.execute(sa.text("SELECT key, value FROM workspace_info")).fetchall())
    moved: list[str] = []
    fire_rows, state_rows, window_rows = [], [], []
    for key, value in rows.items():
        if key.startswith("scheduler.last_fire.") and str(value).isdigit():
            fire_rows.append({"job_id": key.rsplit(".", 1)[1], "last_fire": int(value)})
        elif key.startswith("serving.state."):
            state_rows.append({"name": key[len("serving.state."):], "doc": value})
        elif key.startswith("monitoring.windows."):
            window_rows += [{"monitor": key[len("monitoring.windows."):], "granularity": g,
                             "window_start": s} for g, s in json.loads(value or "[]")]
        else:
            continue
        moved.append(key)
    rule = json.loads(rows.get("models.replay_rule") or "{}") or {}
    op.bulk_insert(policy, [{"id": 1, "require_approval": rows.get("models.require_approval")
                             or "", "replay_min_agreement": rule.get("min_agreement")}])
    moved += [k for k in ("models.require_approval", "models.replay_rule") if k in rows]
    for table, new in ((fires, fire_rows), (states, state_rows), (windows, window_rows)):
        if new:
            op.bulk_insert(table, new)
    for key in moved:
        conn.execute(sa.text("DELETE FROM workspace_info WHERE key = :k"), {"k": key})


def downgrade() -> None:
    conn = op.get_bind()

    def put(key: str, value: str) -> None:
        conn.execute(sa.text("INSERT INTO workspace_info (key, value) VALUES (:k, :v)"),
                     {"k": key, "v": value})

    for job_id, last in conn.execute(sa.text("SELECT job_id, last_fire FROM schedule_fires")):
        put(f"scheduler.last_fire.{job_id}", str(last))
    for name, doc in conn.execute(sa.text("SELECT name, doc FROM endpoint_states")):
        put(f"serving.state.{name}", doc)
    by: dict[str, list[list[str]]] = {}
    for m, g, s in conn.execute(sa.text("SELECT monitor, granularity, window_start FROM "
                                        "monitor_windows")):
        by.setdefault(m, []).append([g, s])
    for m, pairs in by.items():
        put(f"monitoring.windows.{m}", json.dumps(sorted(pairs)))
    row = conn.execute(sa.text("SELECT require_approval, replay_min_agreement FROM "
                               "model_policy WHERE id = 1")).first()
    if row is not None:
        if row[0]:
            put("models.require_approval", row[0])
        if row[1] is not None:
            put("models.replay_rule", json.dumps({"min_agreement": row[1]}))
    for table in ("monitor_windows", "model_policy", "endpoint_states", "schedule_fires"):
        op.drop_table(table)
