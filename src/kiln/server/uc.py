"""Unity Catalog REST (``/api/2.1/unity-catalog/...``) in Databricks' shapes: catalogs,
schemas and tables from kiln's catalog, registered models, their versions and aliases from
the workspace's MLflow registry (setting an alias goes through the approval policy), and
a table's quality monitor with its refreshes (a refresh runs before the call answers)."""

from __future__ import annotations

import json
from typing import Any, Callable

from kiln.catalog.functions import Functions
from kiln.catalog.grants import Grants, securable_type
from kiln.catalog.names import parse_name, split_name
from kiln.catalog.tables import Catalog
from kiln.errors import KilnError, NotFound, NotSupported
from kiln.models.registry import Registry
from kiln.monitoring.monitor import Monitors
from kiln.server.http import Request, Router
from kiln.workspace import Workspace

UC = "/api/2.1/unity-catalog"
NAME = r"(?P<name>[^/]+)"


def add_routes(r: Router, ws_of: Callable[[Request], Workspace]) -> None:
    """Routes whose handlers act as the request's user (``ws_of(request)``)."""
    def cat_of(req: Request) -> Catalog:
        return Catalog(ws_of(req))

    def registry(req: Request) -> Registry:
        return Registry(ws_of(req))

    def schema_doc(cat: Catalog, catalog: str, schema: str) -> dict[str, Any]:
        settings = cat.schema(catalog, schema)
        if settings is None:
            raise NotFound(f"Schema '{catalog}.{schema}' does not exist.")
        return {"name": schema, "catalog_name": catalog, "full_name": f"{catalog}.{schema}",
                "comment": settings.get("comment")}

    def create_schema(req: Request) -> dict[str, Any]:
        catalog, name = req.required("catalog_name").lower(), req.required("name").lower()
        cat = cat_of(req)
        cat.create_schema(catalog, name, req.arg("comment"))
        return schema_doc(cat, catalog, name)

    def table_doc(cat: Catalog, full: str) -> dict[str, Any]:
        info = cat.table_info(full)
        if info is None:
            raise NotFound(f"Table '{full}' does not exist.")
        name = parse_name(full)
        return {"name": name.name, "catalog_name": name.catalog, "schema_name": name.schema,
                "full_name": str(name), "table_type": info.get("table_type", "MANAGED"),
                "data_source_format": "DELTA", "storage_location": info.get("location"),
                "columns": cat.column_docs(info)}

    def list_tables(req: Request) -> dict[str, Any]:
        schema = f"{req.required('catalog_name')}.{req.required('schema_name')}".lower()
        cat = cat_of(req)
        schema_doc(cat, *split_name(schema, "schema", 2))  # exists; USE_CATALOG, USE_SCHEMA
        return {"tables": [table_doc(cat, t) for t in cat.list_tables(schema)]}

    def model_doc(m: Any) -> dict[str, Any]:
        c, s, n = _parts(m.name)
        return {"name": n, "catalog_name": c, "schema_name": s, "full_name": m.name,
                "comment": m.description, "created_at": m.creation_timestamp,
                "updated_at": m.last_updated_timestamp,
                "aliases": [{"alias_name": a, "version_num": int(v)}
                            for a, v in sorted((m.aliases or {}).items())]}

    def version_doc(mv: Any) -> dict[str, Any]:
        c, s, n = _parts(mv.name)
        return {"model_name": n, "catalog_name": c, "schema_name": s,
                "version": int(mv.version), "source": mv.source, "run_id": mv.run_id,
                "status": "READY", "created_at": mv.creation_timestamp,
                "aliases": [{"alias_name": a, "version_num": int(mv.version)}
                            for a in (mv.aliases or [])]}

    def list_models(req: Request) -> dict[str, Any]:
        prefix = ".".join(p for p in (req.arg("catalog_name"), req.arg("schema_name")) if p)
        found = [m for m in registry(req).models() if not prefix or m.name.startswith(prefix + ".")]
        return {"registered_models": [model_doc(m) for m in found]}

    def set_alias(req: Request) -> dict[str, Any]:
        name, alias = req.params["name"], req.params["alias"]
        registry(req).set_alias(name, alias, req.required("version_num", int), reason="REST API")
        return {"alias_name": alias, "version_num": req.required("version_num", int)}

    def monitors(req: Request) -> Monitors:
        return Monitors(ws_of(req))

    def refresh_doc(doc: dict[str, Any]) -> dict[str, Any]:
        return {"refresh_id": doc["refresh_id"], "state": doc["state"],
                "start_time_ms": doc.get("start_time_ms"),
                "end_time_ms": doc.get("end_time_ms") or None,
                "message": doc.get("message") or None, "trigger": "MANUAL"}

    def run_refresh(req: Request) -> dict[str, Any]:
        try:
            info = monitors(req).refresh(req.params["name"])
            return refresh_doc(info.__dict__)
        except KilnError as e:  # a failed refresh is a refresh that failed, not an error
            if not e.summary.startswith("refresh of the monitor"):
                raise
            return refresh_doc(monitors(req).refreshes(req.params["name"])[-1])

    def get_refresh(req: Request) -> dict[str, Any]:
        wanted = int(req.params["refresh"])
        for doc in monitors(req).refreshes(req.params["name"]):
            if doc["refresh_id"] == wanted:
                return refresh_doc(doc)
        raise NotFound(f"refresh {wanted} of the monitor on {req.params['name']} does not exist")

    monitor = UC + "/tables/" + NAME + "/monitor"
    r.add("GET", monitor, lambda req: monitors(req).get(req.params["name"]))
    r.add("POST", monitor, lambda req: monitors(req).create(req.params["name"], req.body))
    r.add("PUT", monitor, lambda req: monitors(req).update(req.params["name"], req.body))
    r.add("DELETE", monitor, lambda req: monitors(req).delete(req.params["name"]))
    r.add("POST", monitor + "/refreshes", run_refresh)
    r.add("GET", monitor + "/refreshes", lambda req: {
        "refreshes": [refresh_doc(d) for d in reversed(monitors(req).refreshes(req.params["name"]))]})
    r.add("GET", monitor + r"/refreshes/(?P<refresh>\d+)", get_refresh)

    def grants(req: Request) -> Grants:
        return Grants(ws_of(req))

    securable = r"/(?P<type>[a-z_]+)/(?P<name>[^/]+)"
    r.add("GET", UC + "/permissions" + securable, lambda req: {
        "privilege_assignments": grants(req).get(securable_type(req.params["type"]),
                                                 req.params["name"], req.arg("principal"))})
    r.add("PATCH", UC + "/permissions" + securable, lambda req: {
        "privilege_assignments": grants(req).update(securable_type(req.params["type"]),
                                                    req.params["name"],
                                                    req.arg("changes", [], list))})
    r.add("GET", UC + "/effective-permissions" + securable, lambda req: {
        "privilege_assignments": grants(req).effective(securable_type(req.params["type"]),
                                                       req.params["name"],
                                                       req.arg("principal"))})

    def catalog_doc(cat: Catalog, name: str) -> dict[str, Any]:
        info = cat.container("catalogs", name)
        return {"name": name, "full_name": name, "comment": info.settings.get("comment"),
                "owner": info.creator or None}

    def create_catalog(req: Request) -> dict[str, Any]:
        cat, name = cat_of(req), req.required("name").lower()
        cat.create_catalog(name, req.arg("comment"))
        return catalog_doc(cat, name)

    def volume_doc(cat: Catalog, full: str) -> dict[str, Any]:
        info = cat.container("volumes", full)
        name = parse_name(full)
        return {"name": name.name, "catalog_name": name.catalog, "schema_name": name.schema,
                "full_name": str(name), "volume_type": "MANAGED", "owner": info.creator,
                "comment": info.settings.get("comment"),
                "storage_location": "/Volumes/" + str(name).replace(".", "/")}

    def create_volume(req: Request) -> dict[str, Any]:
        cat = cat_of(req)
        if req.arg("volume_type", "MANAGED") != "MANAGED":
            raise KilnError("kiln's volumes are MANAGED")
        c, s, n = (req.required(k).lower() for k in ("catalog_name", "schema_name", "name"))
        cat.create_volume(c, s, n, req.arg("comment"))
        return volume_doc(cat, f"{c}.{s}.{n}")

    def list_volumes(req: Request) -> dict[str, Any]:
        cat = cat_of(req)
        schema = f"{req.required('catalog_name')}.{req.required('schema_name')}".lower()
        schema_doc(cat, *split_name(schema, "schema", 2))  # exists; USE_CATALOG, USE_SCHEMA
        return {"volumes": [volume_doc(cat, v) for v in cat.volumes(schema)]}

    def functions_of(req: Request) -> Functions:
        return Functions(ws_of(req))

    def function_doc(f: dict[str, Any]) -> dict[str, Any]:
        """Databricks' FunctionInfo of a catalog function."""
        params = [{"name": p["name"], "type_text": p["type_name"].lower(),
                   "type_name": p["type_name"], "position": i}
                  for i, p in enumerate(f["input_params"])]
        return {"name": f["name"], "catalog_name": f["catalog_name"],
                "schema_name": f["schema_name"], "full_name": f["full_name"],
                "input_params": {"parameters": params}, "data_type": f["data_type"],
                "full_data_type": f["data_type"].lower(), "routine_body": "EXTERNAL",
                "routine_definition": f["routine_definition"], "external_language": "PYTHON",
                "comment": f.get("comment"), "owner": f.get("owner")}

    r.add("GET", UC + "/functions", lambda req: {"functions": [
        function_doc(f) for f in functions_of(req).list(
            f"{req.required('catalog_name')}.{req.required('schema_name')}")]})
    r.add("GET", UC + "/functions/" + NAME, lambda req: function_doc(functions_of(req).get(
        req.params["name"])))
    r.add("DELETE", UC + "/functions/" + NAME, lambda req: functions_of(req).delete(
        req.params["name"]))

    r.add("GET", UC + "/catalogs", lambda req: {
        "catalogs": [catalog_doc(cat_of(req), c) for c in cat_of(req).catalog_names()]})
    r.add("POST", UC + "/catalogs", create_catalog)
    r.add("GET", UC + "/catalogs/" + NAME, lambda req: catalog_doc(cat_of(req),
                                                                   req.params["name"].lower()))
    r.add("GET", UC + "/volumes", list_volumes)
    r.add("POST", UC + "/volumes", create_volume)
    r.add("GET", UC + "/volumes/" + NAME, lambda req: volume_doc(cat_of(req),
                                                                 req.params["name"].lower()))
    def list_schemas(req: Request) -> dict[str, Any]:
        cat, catalog = cat_of(req), req.required("catalog_name").lower()
        return {"schemas": [schema_doc(cat, catalog, s) for s in cat.schema_names(catalog)]}

    r.add("GET", UC + "/schemas", list_schemas)
    r.add("POST", UC + "/schemas", create_schema)
    def get_schema(req: Request) -> dict[str, Any]:
        return schema_doc(cat_of(req), *split_name(req.params["name"], "schema", 2))

    r.add("GET", UC + "/schemas/" + NAME, get_schema)
    def create_table(req: Request) -> dict[str, Any]:
        """Unity Catalog's ``tables`` create, as a Spark engine's Unity Catalog connector
        calls it for ``CREATE TABLE ... USING delta LOCATION ...``: an EXTERNAL Delta
        table with the columns' ``type_json`` as its schema."""
        full = ".".join(req.required(k).lower() for k in ("catalog_name", "schema_name", "name"))
        fmt = str(req.arg("data_source_format", "DELTA")).upper()
        if fmt != "DELTA":
            raise KilnError(f"table {full}: kiln's catalog holds Delta tables, not {fmt} "
                            "(write USING delta)")
        if str(req.arg("table_type", "EXTERNAL")).upper() != "EXTERNAL":
            raise _catalog_managed(full)
        fields = []
        for c in req.arg("columns", [], list):
            try:
                fields.append(json.loads(c["type_json"]))
            except (TypeError, KeyError, ValueError):
                raise KilnError(f"table {full}: each column needs its type_json") from None
        cat = cat_of(req)
        cat.create_declared(full, req.required("storage_location"), fields)
        return table_doc(cat, full)

    def create_staging_table(req: Request) -> dict[str, Any]:
        raise _catalog_managed(".".join(req.required(k) for k in ("catalog_name", "schema_name",
                                                                    "name")))

    r.add("POST", UC + "/tables", create_table)
    r.add("POST", UC + "/staging-tables", create_staging_table)
    r.add("GET", UC + "/tables", list_tables)
    r.add("GET", UC + "/tables/" + NAME, lambda req: table_doc(cat_of(req), req.params["name"]))
    r.add("GET", UC + "/models", list_models)
    r.add("GET", UC + "/models/" + NAME, lambda req: model_doc(registry(req).model(req.params["name"])))
    r.add("GET", UC + "/models/" + NAME + "/versions", lambda req: {
        "model_versions": [version_doc(v) for v in registry(req).versions(req.params["name"])]})
    r.add("GET", UC + "/models/" + NAME + r"/versions/(?P<version>\d+)", lambda req: version_doc(
        registry(req).version(req.params["name"], req.params["version"])))
    r.add("GET", UC + "/models/" + NAME + "/aliases/(?P<alias>[^/]+)", lambda req: version_doc(
        registry(req).resolve(req.params["name"], alias=req.params["alias"])))
    r.add("PUT", UC + "/models/" + NAME + "/aliases/(?P<alias>[^/]+)", set_alias)
    r.add("DELETE", UC + "/models/" + NAME + "/aliases/(?P<alias>[^/]+)", lambda req: registry(
        req).delete_alias(req.params["name"], req.params["alias"], reason="REST API"))

    def create_model(req: Request) -> dict[str, Any]:
        full = ".".join(req.required(k) for k in ("catalog_name", "schema_name", "name"))
        return model_doc(registry(req).create_model(full, req.arg("comment")))

    r.add("POST", UC + "/models", create_model)
    r.add("PATCH", UC + "/models/" + NAME, lambda req: model_doc(registry(req).update_model(
        req.params["name"], req.arg("comment"))))
    r.add("DELETE", UC + "/models/" + NAME, lambda req: registry(req).delete_model(
        req.params["name"]))
    r.add("DELETE", UC + "/models/" + NAME + r"/versions/(?P<version>\d+)", lambda req: registry(
        req).delete_version(req.params["name"], req.params["version"]))

    # deleting containers and tables: ``force`` deletes what a catalog or schema holds
    for kind in ("catalogs", "schemas", "volumes"):
        r.add("DELETE", f"{UC}/{kind}/" + NAME, lambda req, kind=kind: cat_of(req).delete(
            kind, req.params["name"].lower(), cascade=kind == "volumes"
            or req.arg("force", False, bool)))
    r.add("DELETE", UC + "/tables/" + NAME, lambda req: cat_of(req).drop(
        req.params["name"].lower()))


def _catalog_managed(full: str) -> NotSupported:
    return NotSupported(f"table {full}: kiln's catalog does not coordinate the commits of "
                        "managed Delta tables; give the table a LOCATION (an external table), "
                        "or write it from a kiln task, whose Spark registers managed tables")


def _parts(name: str) -> tuple[str, str, str]:
    """(catalog, schema, name) of a Unity Catalog model name; a workspace model's name has
    no catalog and schema."""
    parts = name.split(".")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else ("", "", name)
