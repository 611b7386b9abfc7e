"""Delta tables in a workspace's catalog (delta-rs), and SQL over them (DuckDB).

A table is registered in the workspace (kind ``tables``, id ``catalog.schema.name``) with
its storage location: managed tables live under ``<workspace>/catalog/<c>/<s>/<t>``,
external ones where they were created. Writes enforce the table's schema; every write is a
Delta version, readable again with ``version=``.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any

from kiln.catalog import types
from kiln.catalog.data import MODES, Tables
from kiln.catalog.grants import Grants
from kiln.catalog.names import FullName, parse_name, split_name
from kiln.errors import KilnError
from kiln.run_context import RunContext
from kiln.workspace import AlreadyExists, LineageEntry, NotFound, ObjectInfo, Workspace
from kiln.workspace import layout

if TYPE_CHECKING:
    import pyarrow as pa



class Catalog:
    """The tables of one workspace. With a ``context`` (task code), reads and writes are
    recorded as lineage of the job run and of the active MLflow run.

    Every call is checked against the current user's privileges (``kiln.catalog.grants``):
    reading needs SELECT, writing MODIFY (a new table CREATE_TABLE on its schema), and
    both USE_CATALOG and USE_SCHEMA; lists show what the user may use. Only kiln's own
    engine processes (the Spark catalog server) pass ``check=False``."""

    def __init__(self, ws: Workspace, context: RunContext | None = None,
                 check: bool = True) -> None:
        self.ws = ws
        self.context = context
        self.grants = Grants(ws) if check else None
        root = ws.local_root()
        if root is None:
            raise KilnError(f"workspace {ws.name} is not on this machine")
        self.root = layout.catalog_dir(root)

    # registry ------------------------------------------------------------------------
    def _info(self, name: FullName) -> dict[str, Any] | None:
        try:
            return self.ws.get("tables", str(name)).settings
        except NotFound:
            return None

    def _require(self, kind: str, name: str, privilege: str) -> None:
        if self.grants is not None:
            self.grants.require_on(kind, name, privilege)

    def _require_manage(self, kind: str, name: str) -> None:
        if self.grants is not None:
            self.grants.require_manage(kind, name)

    def _may(self, kind: str, name: str, *privileges: str) -> bool:
        return self.grants is None or self.grants.may(kind, name, *privileges)

    def location(self, table: str, privilege: str = "SELECT") -> str:
        name = parse_name(table)
        info = self._info(name)
        if info is None:
            raise NotFound(f"table {name} does not exist in workspace {self.ws.name}")
        self._require("table", str(name), privilege)
        return str(info["location"])

    def _require_schema(self, name: FullName) -> None:
        schema_id = f"{name.catalog}.{name.schema}"
        if any(o.id == schema_id for o in self.ws.list("schemas")):
            return
        raise NotFound(f"schema {schema_id} does not exist in workspace {self.ws.name}",
                        detail=f"Create it with 'kiln schemas create {schema_id}' or deploy a "
                               "bundle with a schemas resource.")

    # containers ----------------------------------------------------------------------
    def catalog_names(self, check: bool = True) -> list[str]:
        """Catalogs that exist (created ones and those their schemas name) and that the
        user may use (all of them with ``check=False``)."""
        names = {o.id for o in self.ws.list("catalogs")}
        names |= {o.id.split(".", 1)[0] for o in self.ws.list("schemas")}
        return sorted(n for n in names if not check or self._may("catalog", n, "USE_CATALOG"))

    def schema(self, catalog: str, schema: str) -> dict[str, Any] | None:
        """The schema's settings (None if it does not exist); using it needs USE_CATALOG
        and USE_SCHEMA."""
        full = f"{catalog}.{schema}".lower()
        try:
            settings = self.ws.get("schemas", full).settings
        except NotFound:
            return None
        self._require("schema", full, "USE_SCHEMA")
        return settings

    def schema_names(self, catalog: str) -> list[str]:
        prefix = catalog.lower() + "."
        if catalog.lower() in self.catalog_names(check=False):
            self._require("catalog", catalog.lower(), "USE_CATALOG")
        return sorted(o.id[len(prefix):] for o in self.ws.list("schemas")
                      if o.id.startswith(prefix) and self._may("schema", o.id, "USE_SCHEMA"))

    def create_schema(self, catalog: str, schema: str, comment: str | None = None) -> None:
        """Create ``catalog.schema``; the catalog must exist (as on Databricks)."""
        catalog, schema = split_name(f"{catalog}.{schema}", "schema", 2)
        if catalog not in self.catalog_names(check=False):
            raise NotFound(f"catalog {catalog} does not exist in workspace {self.ws.name}")
        self._require("catalog", catalog, "USE_CATALOG")
        self._require("catalog", catalog, "CREATE_SCHEMA")
        settings: dict[str, Any] = {"name": schema, "catalog_name": catalog}
        if comment:
            settings["comment"] = comment
        info = self.ws.create("schemas", schema, settings)
        self.ws.audit("schemas.create", info.id)

    def create_catalog(self, name: str, comment: str | None = None) -> None:
        """A new catalog: workspace admins create catalogs (as metastore admins do)."""
        (name,) = split_name(name, "catalog", 1)
        if self.grants is not None:
            self.grants.ids.require_admin("create catalogs")
        self._create("catalogs", name, {"name": name}, comment)

    def create_volume(self, catalog: str, schema: str, name: str,
                      comment: str | None = None) -> None:
        """A new managed volume in an existing schema (CREATE_VOLUME on it)."""
        full = FullName(*split_name(f"{catalog}.{schema}.{name}", "volume", 3))
        self._require_schema(full)
        self._require("schema", f"{full.catalog}.{full.schema}", "CREATE_VOLUME")
        self._create("volumes", full.name, {"name": full.name, "catalog_name": full.catalog,
                                            "schema_name": full.schema}, comment)

    def _create(self, kind: str, name: str, settings: dict[str, Any],
                comment: str | None) -> None:
        info = self.ws.create(kind, name, {**settings, **({"comment": comment} if comment
                                                          else {})})
        self.ws.audit(f"{kind}.create", info.id)

    def volumes(self, schema: str | None = None) -> list[str]:
        """The volumes (of a schema) the user may read or write."""
        return sorted(o.id for o in self.ws.list("volumes")
                      if (schema is None or o.id.startswith(schema.lower() + "."))
                      and self._may("volume", o.id, "READ_VOLUME", "WRITE_VOLUME"))

    def container(self, kind: str, ident: str) -> ObjectInfo:
        """A catalog, schema or volume, if the user may use it."""
        ident = ident.lower()
        try:
            info = self.ws.get(kind, ident)
        except NotFound:
            if kind != "catalogs" or ident not in self.catalog_names(check=False):
                raise
            info = ObjectInfo("catalogs", ident, ident, {"name": ident})  # named by schemas
        need = {"catalogs": "USE_CATALOG", "schemas": "USE_SCHEMA",
                "volumes": "READ_VOLUME"}[kind]
        if not self._may(kind[:-1], ident, need, "WRITE_VOLUME" if kind == "volumes"
                         else need):
            self._require(kind[:-1], ident, need)
        return info

    def require_path(self, path: str, write: bool) -> None:
        """A workspace path under ``/Volumes/<c>/<s>/<v>/`` needs READ_VOLUME (to read)
        or WRITE_VOLUME (to write) on its volume; other paths are not the catalog's."""
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 4 and parts[0] == "Volumes":
            self._require("volume", ".".join(parts[1:4]).lower(),
                          "WRITE_VOLUME" if write else "READ_VOLUME")

    def delete(self, kind: str, ident: str, cascade: bool = True) -> None:
        """Delete a catalog, schema or volume with everything it holds: its schemas,
        volumes (their files too) and tables (a managed table's data too), so nothing it
        held stays visible by any path (what a bundle destroy or a removed resource
        means). Without ``cascade`` a container that holds anything is refused."""
        ident = ".".join(split_name(ident, kind[:-1], {"catalogs": 1, "schemas": 2,
                                                       "volumes": 3}[kind]))
        self._require_manage(kind[:-1], ident)
        if not cascade:
            held = [o.id for k in ("schemas", "volumes", "tables") for o in self.ws.list(k)
                    if o.id.startswith(ident + ".")]
            if held:
                raise KilnError(f"{kind[:-1]} {ident} is not empty: it holds {held[0]}"
                                + (f" and {len(held) - 1} more" if len(held) > 1 else ""),
                                detail="Delete what it holds first.")
        if kind == "catalogs":
            for schema in self.schema_names(ident):
                self.delete("schemas", f"{ident}.{schema}")
            shutil.rmtree(os.path.join(self.root, ident), ignore_errors=True)
        elif kind == "schemas":
            for vol in [o.id for o in self.ws.list("volumes") if o.id.startswith(ident + ".")]:
                self.delete("volumes", vol)
            for table in self.list_tables(ident):
                self.drop(table)
            shutil.rmtree(self.schema_root(*ident.split(".", 1)), ignore_errors=True)
        elif kind == "volumes":
            self.ws.delete_path("/Volumes/" + ident.replace(".", "/"), recursive=True)
        try:
            self.ws.delete(kind, ident)
        except NotFound:
            if kind != "catalogs":  # a catalog may exist only through its schemas
                raise
        self.ws.audit(f"{kind}.delete", ident)

    def schema_root(self, catalog: str, schema: str) -> str:
        """Where the schema's managed tables live: ``<workspace>/catalog/<c>/<s>``."""
        return os.path.join(self.root, catalog.lower(), schema.lower())

    def table_info(self, table: str) -> dict[str, Any] | None:
        """The registered table (location, type, columns), or None; seeing it needs
        SELECT or MODIFY on it."""
        name = parse_name(table)
        info = self._info(name)
        if info is not None and not self._may("table", str(name), "SELECT", "MODIFY"):
            self._require("table", str(name), "SELECT")
        return info

    def column_docs(self, info: dict[str, Any]) -> list[dict[str, Any]]:
        """Unity Catalog's ``ColumnInfo`` of each column of a table (its ``table_info``):
        from its Delta log's schema, or as recorded while it has no log yet."""
        fields = types.delta_fields(str(info["location"]))
        if fields is None:
            fields = [f for c in info.get("columns") or []
                      if (f := types.recorded_field(c)) is not None]
        return [types.column_doc(f, i) for i, f in enumerate(fields)]

    def annotate(self, table: str, properties: dict[str, Any]) -> None:
        """Keep ``properties`` in the table's registration (a feature table's keys,
        description and tags); changing a table's description needs MODIFY on it."""
        name = parse_name(table)
        info = self._info(name)
        if info is None:
            raise NotFound(f"table {name} does not exist in workspace {self.ws.name}")
        self._require("table", str(name), "MODIFY")
        self.ws.update("tables", str(name), name.name, {**info, **properties})
        self.ws.audit("tables.annotate", str(name), {"properties": sorted(properties)})

    def _require_create_table(self, name: FullName) -> None:
        self._require("schema", f"{name.catalog}.{name.schema}", "CREATE_TABLE")

    def create_declared(self, table: str, location: str, fields: list[dict[str, Any]]) -> None:
        """An external table an engine declares with its columns (Spark's ``CREATE TABLE
        ... USING delta LOCATION ...`` through a Unity Catalog connector): the Delta table
        at ``location`` is made with that schema when none is there yet, as Databricks
        makes it, then registered. ``fields`` are Spark JSON schema fields."""
        import json

        from deltalake import DeltaTable, Schema

        name = parse_name(table)
        self._check_new(name)
        where = _local_location(location)
        if types.delta_fields(where) is None:
            try:
                schema = Schema.from_json(json.dumps({"type": "struct", "fields": fields}))
            except Exception as e:  # noqa: BLE001 - delta-rs's parse errors
                raise KilnError(f"table {name}: the columns are not a Delta schema: {e}") \
                    from None
            DeltaTable.create(where, schema)
        self._record_new(name, where, False, [
            {"name": f["name"], "type": types.type_text(f["type"])} for f in fields],
            {"external": True})

    def register(self, table: str, location: str, columns: list[dict[str, str]]) -> None:
        """Register a Delta table another engine (Spark) created at ``location``; it is
        managed when it lies where the schema keeps its managed tables."""
        name = parse_name(table)
        self._check_new(name)
        where = _local_location(location)
        self._record_new(name, where, where == self._managed_place(name), columns,
                         {"engine": "spark"})

    def _check_new(self, name: FullName) -> None:
        """A new table may be registered: none has the name, its schema exists, and the
        user may create tables there."""
        if self._info(name) is not None:
            raise AlreadyExists(f"table {name} already exists in workspace {self.ws.name}")
        self._require_schema(name)
        self._require_create_table(name)

    def _managed_place(self, name: FullName) -> str:
        return os.path.join(self.schema_root(name.catalog, name.schema), name.name)

    def _record_new(self, name: FullName, where: str, managed: bool,
                    columns: list[dict[str, str]], detail: dict[str, Any],
                    lineage: bool = True) -> None:
        """Register a new table, audited; its first version is a write of the lineage
        unless it was there before (an external table registered as it is)."""
        self.ws.create("tables", name.name, {
            "name": name.name, "catalog_name": name.catalog, "schema_name": name.schema,
            "location": where, "table_type": "MANAGED" if managed else "EXTERNAL",
            "columns": columns})
        self.ws.audit("tables.create", str(name), {"location": where, **detail})
        if lineage:
            self._lineage(name, 0, "write", always=True)

    def list_tables(self, schema: str | None = None) -> list[str]:
        ids = [o.id for o in self.ws.list("tables")]
        return sorted(i for i in ids if (schema is None or i.startswith(schema.lower() + "."))
                      and self._may("table", i, "SELECT", "MODIFY"))

    # what reading and writing asks (kiln.catalog.data.TableMeta) ----------------------
    def new_table(self, table: str, location: str | None) -> str:
        """Where a new table's first write goes: its managed place in the schema, or
        ``location`` (an external table)."""
        name = parse_name(table)
        self._check_new(name)
        return self._managed_place(name) if location is None else _local_location(location)

    def created(self, table: str, where: str, rows: int) -> None:
        """Register the table whose first version was just written at ``where``: managed
        when it lies in its schema's managed place, with its Delta log's columns."""
        name = parse_name(table)
        self._check_new(name)
        where = _local_location(where)
        self._record_new(name, where, where == self._managed_place(name), _delta_columns(where),
                         {"rows": rows})

    def written(self, table: str, mode: str, version: int, rows: int, record: bool,
                evolved: bool = False) -> None:
        """A write made ``version``; ``evolved``: it may have added columns, which the
        registration then takes from the Delta log."""
        if mode not in MODES:
            raise KilnError(f"write mode must be one of {', '.join(MODES)}, got {mode!r}")
        name = parse_name(table)
        info = self._info(name)
        if info is None:
            raise NotFound(f"table {name} does not exist in workspace {self.ws.name}")
        self._require("table", str(name), "MODIFY")
        if evolved:
            columns = _delta_columns(str(info["location"]))
            if [c["name"] for c in columns] != [c["name"] for c in info.get("columns") or []]:
                self.ws.update("tables", str(name), name.name, {**info, "columns": columns})
        if record:
            self.ws.audit("tables.write", str(name), {"mode": mode, "version": version,
                                                      "rows": rows})
            self._lineage(name, version, "write", always=True)

    def create_function(self, sql: str) -> dict[str, Any]:
        from kiln.catalog.functions import Functions

        return Functions(self.ws).create(sql)

    def function(self, name: str) -> dict[str, Any]:
        from kiln.catalog.functions import Functions

        return Functions(self.ws).get(name)

    def online_root(self) -> str:
        return str(self.ws.local_root())

    # the data (kiln.catalog.data) --------------------------------------------------------
    def write(self, table: str, data: Any, mode: str = "append",
              keys: list[str] | None = None, location: str | None = None,
              record: bool = True, evolve: bool = False) -> int:
        return Tables(self).write(table, data, mode, keys, location, record, evolve)

    def read(self, table: str, version: int | None = None, as_arrow: bool = False) -> Any:
        return Tables(self).read(table, version, as_arrow)

    def history(self, table: str) -> list[dict[str, Any]]:
        return Tables(self).history(table)

    def sql(self, query: str) -> "pa.Table":
        return Tables(self).sql(query)

    def create_external(self, table: str, location: str) -> None:
        """Register the Delta table at ``location`` as an external table (data stays)."""
        name = parse_name(table)
        self._check_new(name)
        where = os.path.abspath(location)
        self._record_new(name, where, False, _delta_columns(where), {"external": True},
                         lineage=False)

    def record(self, table: str, op: str, version: int | None = None) -> None:
        """Record that a table was read or written (by task code, or another engine such
        as Spark), at ``version`` or its current one; names that are not catalog tables
        are ignored."""
        from deltalake import DeltaTable

        if op != "write" and not self._in_run():
            return  # reads are recorded only for task code: nothing to look up
        try:
            name = parse_name(table)
        except KilnError:
            return
        info = self._info(name)
        if info is None:
            return
        if version is None:
            try:
                version = DeltaTable(str(info["location"])).version()
            except Exception:  # noqa: BLE001 - not (yet) a Delta table: nothing to record
                return
        self._lineage(name, version, op, always=op == "write")

    def _in_run(self) -> bool:
        ctx = self.context or RunContext()
        return ctx.job_run_id is not None or ctx.mlflow_run_id() is not None

    def _lineage(self, name: FullName, version: int, op: str, always: bool = False) -> None:
        """Writes are always recorded; reads only by task code (a job or MLflow run)."""
        if always or self._in_run():
            ctx = self.context or RunContext()
            self.ws.record_lineage(LineageEntry(str(name), str(version), op, ctx.job_run_id,
                                                ctx.task_key, ctx.mlflow_run_id()))

    def drop(self, table: str) -> None:
        name = parse_name(table)
        info = self._info(name)
        if info is None:
            raise NotFound(f"table {name} does not exist in workspace {self.ws.name}")
        self._require_manage("table", str(name))
        self.ws.delete("tables", str(name))
        if info.get("table_type") == "MANAGED":
            shutil.rmtree(str(info["location"]), ignore_errors=True)


def _local_location(location: str) -> str:
    """An engine's table location as a path of this machine (a ``file://`` URL too); kiln's
    tables live in local storage."""
    if location.startswith("file://"):
        location = location[len("file://"):]
    elif "://" in location:
        raise KilnError(f"storage location {location} is not on this machine: kiln's tables "
                        "live in local storage")
    return os.path.abspath(location)


def _delta_columns(where: str) -> list[dict[str, str]]:
    """The columns of the Delta table at ``where``, as a registration keeps them."""
    import pyarrow as pa
    from deltalake import DeltaTable

    try:
        return _columns(pa.schema(DeltaTable(where).schema().to_arrow()))
    except Exception:  # noqa: BLE001 - delta-rs raises several kinds for a non-table
        raise KilnError(f"{where} is not a Delta table") from None


def _columns(schema: Any) -> list[dict[str, str]]:
    return [{"name": f.name, "type": str(f.type)} for f in schema]
