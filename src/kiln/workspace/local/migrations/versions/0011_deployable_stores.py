"""The deployable objects, each kind in a table of its own: they leave the generic
``objects`` table (dropped) for ``jobs`` (keyed by job id), ``serving_endpoints``,
``quality_monitors``, ``uc_catalogs``, ``uc_schemas``, ``uc_volumes``,
``mlflow_experiments`` and ``mlflow_registered_models`` (keyed by their natural ids). New
job ids continue above every id the old table gave, so no id is ever given twice.

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

# table -> the kind its rows had in ``objects`` (written out here: a migration does not
# follow later code)
_TABLES = {"jobs": "jobs", "serving_endpoints": "model_serving_endpoints",
           "quality_monitors": "quality_monitors", "uc_catalogs": "catalogs",
           "uc_schemas": "schemas", "uc_volumes": "volumes",
           "mlflow_experiments": "experiments", "mlflow_registered_models": "registered_models"}


def _key(name: str) -> str:
    return "job_id" if name == "jobs" else "id"


def _object_columns() -> list[sa.Column]:
    """What every object row holds besides its key, in the old table as in the new ones."""
    return [sa.Column("name", sa.String, nullable=False),
            sa.Column("settings", sa.Text, nullable=False),
            sa.Column("bundle_ref", sa.String, nullable=True),
            sa.Column("created_at", MILLIS, nullable=False),
            sa.Column("updated_at", MILLIS, nullable=False),
            sa.Column("creator", sa.String, nullable=False)]


def _create(name: str) -> sa.Table:
    key = (sa.Column("job_id", sa.Integer, primary_key=True, autoincrement=True)
           if name == "jobs" else sa.Column("id", sa.String, primary_key=True))
    table = op.create_table(name, key, *_object_columns(),
                            **({"sqlite_autoincrement": True} if name == "jobs" else {}))
    op.create_index(f"ix_{name}_bundle_ref", name, ["bundle_ref"], unique=True)
    op.create_index(f"ix_{name}_name", name, ["name"])
    return table


def upgrade() -> None:
    conn = op.get_bind()
    # job ids were the old table's sequence: new ones continue above all it ever gave
    top = conn.execute(sa.text("SELECT max(seq) FROM objects")).scalar() or 0
    for name, kind in _TABLES.items():
        table = _create(name)
        rows = conn.execute(sa.text(
            "SELECT id, name, settings, bundle_ref, created_at, updated_at, creator "
            "FROM objects WHERE kind = :k ORDER BY seq"), {"k": kind}).fetchall()
        if rows:
            op.bulk_insert(table, [
                {_key(name): int(r[0]) if name == "jobs" else r[0], "name": r[1],
                 "settings": r[2], "bundle_ref": r[3], "created_at": r[4], "updated_at": r[5],
                 "creator": r[6]} for r in rows])
    op.drop_table("objects")
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
    objects = op.create_table(
        "objects",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("id", sa.String, nullable=False),
        *_object_columns(),
        sa.UniqueConstraint("kind", "id", name="uq_objects_kind_id"))
    op.create_index("ix_objects_bundle_ref", "objects", ["bundle_ref"], unique=True)
    op.create_index("ix_objects_kind_name", "objects", ["kind", "name"])
    conn = op.get_bind()
    jobs, others = [], []
    for name, kind in _TABLES.items():
        for row in conn.execute(sa.text(f"SELECT * FROM {name}")).mappings().fetchall():
            doc = {"kind": kind, "id": str(row[_key(name)]), "name": row["name"],
                   "settings": row["settings"], "bundle_ref": row["bundle_ref"],
                   "created_at": row["created_at"], "updated_at": row["updated_at"],
                   "creator": row["creator"]}
            # a job's id was the old table's sequence: it gets its id back as its seq,
            # so that the ids the old code gives later never meet one of these
            (jobs if name == "jobs" else others).append(
                {**doc, "seq": row["job_id"]} if name == "jobs" else doc)
        op.drop_table(name)
    if jobs:
        op.bulk_insert(objects, jobs)
        if conn.dialect.name != "sqlite":
            conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('objects', 'seq'), "
                                 ":n)"), {"n": max(j["seq"] for j in jobs)})
    if others:
        op.bulk_insert(objects, sorted(others, key=lambda r: r["created_at"]))
