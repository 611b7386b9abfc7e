"""The catalog's registrations in tables of their own: Delta tables and Python functions
leave the generic ``objects`` table for ``catalog_tables`` and ``catalog_functions``, with
typed columns (type, location, columns; a function's signature and body).

Revision ID: 0009
Revises: 0008
"""

import json

import sqlalchemy as sa
from alembic import op

from kiln.workspace.local.tables import MILLIS

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# each store's typed columns (JSON ones dumped); what else a registration held goes in
# ``properties`` (written out here: a migration does not follow later code)
_NAMES = ("catalog_name", "schema_name", "name")
_COLUMNS = {"tables": (("table_type", "location", "columns"), ("columns",)),
            "functions": (("data_type", "input_params", "routine_definition"),
                          ("input_params",))}
_KIND_OF = {"catalog_tables": "tables", "catalog_functions": "functions"}


def _dump(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _split(kind: str, settings: dict) -> dict:
    columns, as_json = _COLUMNS[kind]
    values = {k: str(settings.get(k) or "") for k in _NAMES}
    for k in columns:
        v = settings.get(k)
        values[k] = _dump(v if v is not None else []) if k in as_json else str(v or "")
    values["properties"] = _dump({k: v for k, v in settings.items()
                                  if k not in _NAMES and k not in columns})
    return values


def _join(kind: str, row: dict) -> dict:
    columns, as_json = _COLUMNS[kind]
    out = {k: row[k] for k in _NAMES}
    for k in columns:
        out[k] = json.loads(row[k]) if k in as_json else row[k]
    return {**out, **json.loads(row["properties"])}


def _common() -> list[sa.Column]:
    return [sa.Column("full_name", sa.String, primary_key=True),
            sa.Column("catalog_name", sa.String, nullable=False),
            sa.Column("schema_name", sa.String, nullable=False),
            sa.Column("name", sa.String, nullable=False)]


def _stamps() -> list[sa.Column]:
    return [sa.Column("properties", sa.Text, nullable=False),
            sa.Column("created_at", MILLIS, nullable=False),
            sa.Column("updated_at", MILLIS, nullable=False),
            sa.Column("creator", sa.String, nullable=False)]


def upgrade() -> None:
    created = {
        "catalog_tables": op.create_table(
            "catalog_tables", *_common(),
            sa.Column("table_type", sa.String, nullable=False),
            sa.Column("location", sa.Text, nullable=False),
            sa.Column("columns", sa.Text, nullable=False), *_stamps()),
        "catalog_functions": op.create_table(
            "catalog_functions", *_common(),
            sa.Column("data_type", sa.String, nullable=False),
            sa.Column("input_params", sa.Text, nullable=False),
            sa.Column("routine_definition", sa.Text, nullable=False), *_stamps()),
    }
    for name in created:
        op.create_index(f"ix_{name}_schema", name, ["catalog_name", "schema_name"])
    conn = op.get_bind()
    for name, table in created.items():
        kind = _KIND_OF[name]
        rows = conn.execute(sa.text(
            "SELECT id, settings, created_at, updated_at, creator FROM objects "
            "WHERE kind = :k ORDER BY seq"), {"k": kind}).fetchall()
        if rows:
            op.bulk_insert(table, [
                {"full_name": r[0], "created_at": r[2], "updated_at": r[3], "creator": r[4],
                 **_split(kind, json.loads(r[1]))} for r in rows])
        conn.execute(sa.text("DELETE FROM objects WHERE kind = :k"), {"k": kind})


def downgrade() -> None:
    conn = op.get_bind()
    for name, kind in _KIND_OF.items():
        for row in conn.execute(sa.text(f"SELECT * FROM {name}")).mappings().fetchall():
            conn.execute(sa.text(
                "INSERT INTO objects (kind, id, name, settings, created_at, updated_at, "
                "creator) VALUES (:kind, :id, :name, :settings, :c, :u, :who)"),
                {"kind": kind, "id": row["full_name"], "name": row["name"],
                 "settings": _dump(_join(kind, dict(row))), "c": row["created_at"],
                 "u": row["updated_at"], "who": row["creator"]})
        op.drop_table(name)
