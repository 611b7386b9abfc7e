"""The catalog's registrations in tables of their own: Delta tables (``catalog_tables``)
and Python functions (``catalog_functions``), one row each, keyed by full name.

The workspace's object calls (``create``/``get``/``update``/``delete``/``list`` with kind
``tables`` or ``functions``) land here; their settings documents are split into typed
columns on the way in and joined on the way out, so callers see what they always saw.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.engine import Engine

from kiln.workspace.api import AlreadyExists, NotFound, ObjectInfo
from kiln.workspace.local import tables as t
from kiln.workspace.local.db import dump, write

# kind -> (its table, the settings keys that are columns of their own; JSON ones dumped)
_NAMES = ("catalog_name", "schema_name", "name")
_TYPED: dict[str, tuple[Table, tuple[str, ...], tuple[str, ...]]] = {
    "tables": (t.catalog_tables, ("table_type", "location", "columns"), ("columns",)),
    "functions": (t.catalog_functions, ("data_type", "input_params", "routine_definition"),
                  ("input_params",)),
}
KINDS = frozenset(_TYPED)



def row_values(kind: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The typed columns of a registration's settings (the rest go in ``properties``)."""
    _table, columns, as_json = _TYPED[kind]
    values: dict[str, Any] = {k: str(settings.get(k) or "") for k in _NAMES}
    for k in columns:
        v = settings.get(k)
        values[k] = dump(v if v is not None else []) if k in as_json else str(v or "")
    values["properties"] = dump({k: v for k, v in settings.items()
                                  if k not in _NAMES and k not in columns})
    return values


def _settings(kind: str, row: Any) -> dict[str, Any]:
    _table, columns, as_json = _TYPED[kind]
    out: dict[str, Any] = {k: getattr(row, k) for k in _NAMES}
    for k in columns:
        out[k] = json.loads(getattr(row, k)) if k in as_json else getattr(row, k)
    return {**out, **json.loads(row.properties)}


def _info(kind: str, row: Any) -> ObjectInfo:
    return ObjectInfo(kind, row.full_name, row.name, _settings(kind, row), None,
                      row.created_at, row.updated_at, row.creator)


class CatalogStore:
    def __init__(self, engine: Engine, workspace: str) -> None:
        self.engine = engine
        self.workspace = workspace

    def create(self, kind: str, full_name: str, settings: dict[str, Any], user: str,
               now: int) -> ObjectInfo:
        table = _TYPED[kind][0]
        with write(self.engine) as c:
            if c.execute(select(table.c.full_name).where(
                    table.c.full_name == full_name)).first() is not None:
                raise AlreadyExists(f"{kind[:-1]} {full_name} already exists in workspace "
                                    f"{self.workspace}")
            c.execute(insert(table).values(full_name=full_name, created_at=now,
                                           updated_at=now, creator=user,
                                           **row_values(kind, settings)))
        return self.get(kind, full_name)

    def update(self, kind: str, full_name: str, settings: dict[str, Any],
               now: int) -> tuple[ObjectInfo, ObjectInfo]:
        """The registration before and after."""
        table = _TYPED[kind][0]
        before = self.get(kind, full_name)
        with write(self.engine) as c:
            c.execute(update(table).where(table.c.full_name == full_name).values(
                updated_at=now, **row_values(kind, settings)))
        return before, self.get(kind, full_name)

    def delete(self, kind: str, full_name: str) -> None:
        table = _TYPED[kind][0]
        with write(self.engine) as c:
            res = c.execute(delete(table).where(table.c.full_name == full_name))
        if res.rowcount == 0:
            raise NotFound(f"{kind[:-1]} {full_name} does not exist in workspace "
                           f"{self.workspace}")

    def get(self, kind: str, full_name: str) -> ObjectInfo:
        table = _TYPED[kind][0]
        with self.engine.connect() as c:
            row = c.execute(select(table).where(table.c.full_name == full_name)).first()
        if row is None:
            raise NotFound(f"{kind[:-1]} {full_name} does not exist in workspace "
                           f"{self.workspace}")
        return _info(kind, row)

    def list(self, kind: str, name: str | None = None) -> list[ObjectInfo]:
        table = _TYPED[kind][0]
        q = select(table).order_by(table.c.created_at, table.c.full_name)
        if name is not None:
            q = q.where(table.c.name == name)
        with self.engine.connect() as c:
            return [_info(kind, r) for r in c.execute(q)]
