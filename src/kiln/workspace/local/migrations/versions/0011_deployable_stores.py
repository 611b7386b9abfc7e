"""Jobs, serving endpoints and quality monitors in tables of their own: they leave the
generic ``objects`` table for ``jobs`` (keyed by job id), ``serving_endpoints`` and
``quality_monitors`` (keyed by name and by table). New job ids continue above every id the
old table gave, so no id is ever given twice.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from kiln.workspace.local.tables import MILLIS

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# table -> (kind, its key column) (written out here: a migration does not follow later code)
_TABLES = {"jobs": ("jobs", "job_id"), "serving_endpoints": ("model_serving_endpoints", "id"),
           "quality_monitors": ("quality_monitors", "id")}


def _create(name: str, key: sa.Column, **kw: bool) -> sa.Table:
    table = op.create_table(
        name, key,
        sa.Column("name", sa.String, nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("bundle_ref", sa.String, nullable=True),
        sa.Column("created_at", MILLIS, nullable=False),
        sa.Column("updated_at", MILLIS, nullable=False),
        sa.Column("creator", sa.String, nullable=False), **kw)
    op.create_index(f"ix_{name}_bundle_ref", name, ["bundle_ref"], unique=True)
    op.create_index(f"ix_{name}_name", name, ["name"])
    return table


def upgrade() -> None:
    created = {
        "jobs": _create("jobs", sa.Column("job_id", sa.Integer, primary_key=True,
                                          autoincrement=True), sqlite_autoincrement=True),
        "serving_endpoints": _create("serving_endpoints",
                                     sa.Column("id", sa.String, primary_key=True)),
        "quality_monitors": _create("quality_monitors",
                                    sa.Column("id", sa.String, primary_key=True)),
    }
    conn = op.get_bind()
    # job ids were the old table's sequence: new ones continue above all it ever gave
    top = conn.execute(sa.text("SELECT max(seq) FROM objects")).scalar() or 0
    for name, table in created.items():
        kind, key = _TABLES[name]
        rows = conn.execute(sa.text(
            "SELECT id, name, settings, bundle_ref, created_at, updated_at, creator "
            "FROM objects WHERE kind = :k ORDER BY seq"), {"k": kind}).fetchall()
        if rows:
            op.bulk_insert(table, [
                {key: int(r[0]) if key == "job_id" else r[0], "name": r[1], "settings": r[2],
                 "bundle_ref": r[3], "created_at": r[4], "updated_at": r[5], "creator": r[6]}
                for r in rows])
        conn.execute(sa.text("DELETE FROM objects WHERE kind = :k"), {"k": kind})
    if not top:
        return
    if conn.dialect.name == "sqlite":  # the copied ids already set it to their highest
        if conn.execute(sa.text("SELECT count(*) FROM sqlite_sequence WHERE name = 'jobs'")
                        ).scalar():
            conn.execute(sa.text("UPDATE sqlite_sequence SET seq = :n WHERE name = 'jobs'"),
                         {"n": top})
        else:
            conn.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('jobs', :n)"),
                         {"n": top})
    else:
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('jobs', 'job_id'), :n)"),
                     {"n": top})


def downgrade() -> None:
    conn = op.get_bind()
    for name, (kind, key) in _TABLES.items():
        for row in conn.execute(sa.text(f"SELECT * FROM {name}")).mappings().fetchall():
            conn.execute(sa.text(
                "INSERT INTO objects (kind, id, name, settings, bundle_ref, created_at, "
                "updated_at, creator) VALUES (:kind, :id, :name, :settings, :ref, :c, :u, :who)"),
                {"kind": kind, "id": str(row[key]), "name": row["name"],
                 "settings": row["settings"], "ref": row["bundle_ref"], "c": row["created_at"],
                 "u": row["updated_at"], "who": row["creator"]})
        op.drop_table(name)
