"""The deployable objects, each kind in a table of its own: jobs in ``jobs`` (keyed by
their generated id), serving endpoints, quality monitors, Unity Catalog's catalogs, schemas
and volumes, and the deploy markers of MLflow's experiments and registered models (MLflow
is their system of record) in ``serving_endpoints``, ``quality_monitors``, ``uc_catalogs``,
``uc_schemas``, ``uc_volumes``, ``mlflow_experiments`` and ``mlflow_registered_models``,
keyed by their natural ids. Every row keeps the settings the API shapes and the marker of
the bundle that deployed it (``bundle_ref``).

The catalog's registrations (tables, functions) are ``catalog_store``'s.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.engine import Engine

from kiln.errors import KilnError
from kiln.workspace.api import KINDS as ALL_KINDS, AlreadyExists, NotFound, ObjectInfo
from kiln.workspace.local import tables as t
from kiln.workspace.local.db import dump, write

TABLES: dict[str, Table] = {
    "jobs": t.jobs, "model_serving_endpoints": t.serving_endpoints,
    "quality_monitors": t.quality_monitors, "catalogs": t.uc_catalogs, "schemas": t.uc_schemas,
    "volumes": t.uc_volumes, "experiments": t.mlflow_experiments,
    "registered_models": t.mlflow_registered_models}
KINDS = frozenset(TABLES)
_SINGULAR = {"jobs": "job", "experiments": "experiment", "registered_models": "registered model",
             "catalogs": "catalog", "schemas": "schema", "volumes": "volume",
             "model_serving_endpoints": "serving endpoint", "quality_monitors": "quality monitor",
             "tables": "table", "functions": "function"}


def singular(kind: str) -> str:
    return _SINGULAR.get(kind, kind)



class ObjectStore:
    def __init__(self, engine: Engine, workspace: str) -> None:
        self.engine = engine
        self.workspace = workspace

    # where a kind's rows are -----------------------------------------------------------
    @staticmethod
    def _table(kind: str) -> Table:
        table = TABLES.get(kind)
        if table is None:
            raise KilnError(f"unknown object kind {kind!r}")
        return table

    @staticmethod
    def _key(table: Table) -> Any:
        return table.c.job_id if table is t.jobs else table.c.id

    def _match(self, kind: str, id: str) -> tuple[Table, Any] | None:
        """The table of ``kind`` and the condition that picks ``id`` (None: no object can
        have that id)."""
        table = self._table(kind)
        if table is t.jobs:
            if not str(id).isdigit() or int(id) >= 2**63:
                return None  # not a job id: no job has it
            return table, table.c.job_id == int(id)
        return table, table.c.id == id

    def _info(self, kind: str, row: Any) -> ObjectInfo:
        ident = str(getattr(row, self._key(self._table(kind)).name))
        return ObjectInfo(kind, ident, row.name, json.loads(row.settings), row.bundle_ref,
                          row.created_at, row.updated_at, row.creator)

    def _missing(self, kind: str, id: str) -> NotFound:
        return NotFound(f"{singular(kind)} {id} does not exist in workspace {self.workspace}")

    # the calls ---------------------------------------------------------------------------
    def create(self, kind: str, natural: str | None, name: str, settings: dict[str, Any],
               bundle_ref: str | None, user: str, now: int) -> ObjectInfo:
        """A new object: ``natural`` is its id; a job's (None) is generated."""
        table = self._table(kind)
        row = {"name": name, "settings": dump(settings), "bundle_ref": bundle_ref,
               "created_at": now, "updated_at": now, "creator": user}
        if natural is None and table is not t.jobs:
            raise KilnError(f"a {singular(kind)} needs its id")
        with write(self.engine) as c:
            if natural is not None:
                match = self._match(kind, natural)
                if match is not None and c.execute(
                        select(match[0]).where(match[1])).first() is not None:
                    raise AlreadyExists(f"{singular(kind)} {natural} already exists in "
                                        f"workspace {self.workspace}")
            if bundle_ref is not None:
                hit = c.execute(select(table).where(table.c.bundle_ref == bundle_ref)).first()
                if hit is not None:
                    raise AlreadyExists(f"{bundle_ref.split('#')[-1]} is already deployed as "
                                        f"{singular(kind)} {self._info(kind, hit).id} in "
                                        f"workspace {self.workspace}")
            if table is t.jobs:
                ident = str(c.execute(insert(table).values(**row)).inserted_primary_key[0])
            else:
                ident = str(natural)
                c.execute(insert(table).values(id=ident, **row))
        return ObjectInfo(kind, ident, name, settings, bundle_ref, now, now, user)

    def update(self, kind: str, id: str, name: str, settings: dict[str, Any], now: int,
               before: Any = None) -> tuple[ObjectInfo, ObjectInfo]:
        """The object before and after; ``before`` runs between the two inside the write
        (the MLflow side of an experiment or registered model)."""
        match = self._match(kind, id)
        if match is None:
            raise self._missing(kind, id)
        table, where = match
        with write(self.engine) as c:
            row = c.execute(select(table).where(where)).first()
            if row is None:
                raise self._missing(kind, id)
            if before is not None:
                before()
            c.execute(update(table).where(where).values(
                name=name, settings=dump(settings), updated_at=now))
        old = self._info(kind, row)
        return old, ObjectInfo(kind, old.id, name, settings, old.bundle_ref, old.created_at,
                               now, old.creator)

    def delete(self, kind: str, id: str) -> None:
        match = self._match(kind, id)
        if match is None:
            raise self._missing(kind, id)
        with write(self.engine) as c:
            res = c.execute(delete(match[0]).where(match[1]))
        if res.rowcount == 0:
            raise self._missing(kind, id)

    def get(self, kind: str, id: str) -> ObjectInfo:
        match = self._match(kind, id)
        row = None
        if match is not None:
            with self.engine.connect() as c:
                row = c.execute(select(match[0]).where(match[1])).first()
        if row is None:
            raise self._missing(kind, id)
        return self._info(kind, row)

    def list(self, kind: str | None = None, *, bundle_ref_prefix: str | None = None,
             name: str | None = None) -> list[ObjectInfo]:
        """Objects of a kind (of every kind when None), of a bundle's deploy, of a name;
        oldest first."""
        found: list[ObjectInfo] = []
        with self.engine.connect() as c:
            for k in [kind] if kind is not None else list(TABLES):
                table = self._table(k)
                q = select(table).order_by(table.c.created_at, self._key(table))
                if bundle_ref_prefix is not None:
                    q = q.where(table.c.bundle_ref.startswith(bundle_ref_prefix,
                                                              autoescape=True))
                if name is not None:
                    q = q.where(table.c.name == name)
                found += [self._info(k, r) for r in c.execute(q)]
        if kind is None:
            order = {k: i for i, k in enumerate(ALL_KINDS)}
            found.sort(key=lambda o: (o.created_at, order.get(o.kind, len(order))))
        return found
