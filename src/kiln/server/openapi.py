"""The request models of ``kiln server``'s REST API and its OpenAPI 3.1 document
(``GET /api/openapi.json``), both from one table.

Each route of the router is described here by its parameters and the shape of its answer;
``describe`` fails for a route without a description, so the document cannot fall
behind the router (a test builds it), and ``check_requests`` puts a pydantic model of
each route's parameters in front of its handler: a request whose parameters are missing
or of the wrong type is refused (``INVALID_PARAMETER_VALUE``, naming the parameter) before
any handler runs. Parameters are written ``name:type`` (``!`` when
required; types ``str``, ``int``, ``bool``, ``obj``, ``list``); GET parameters are in the
query, the others in a JSON body. Every operation may answer Databricks' error body with
400, 401, 403, 404 or 409.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from kiln.errors import KilnError
from kiln.server.http import Router

_TYPES = {"str": {"type": "string"}, "int": {"type": "integer"},
          "bool": {"type": "boolean"}, "obj": {"type": "object"},
          "list": {"type": "array"}}


def _obj(required: tuple[str, ...] = (), **props: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        doc["required"] = list(required)
    return doc


def _list(key: str, item: dict[str, Any] | None = None, *more: str) -> dict[str, Any]:
    return _obj((key,), **{key: {"type": "array", "items": item or {"type": "object"}}},
                **{m: _TYPES["bool"] if m == "has_more" else _TYPES["str"] for m in more})


EMPTY = _obj()
ANY = {"type": "object"}
ERROR = _obj(("error_code", "message"), error_code=_TYPES["str"], message=_TYPES["str"],
             details={"type": "array"})
JOB = _obj(("job_id", "settings"), job_id=_TYPES["int"], settings=ANY,
           created_time=_TYPES["int"], creator_user_name=_TYPES["str"])
RUN = _obj(("run_id", "job_id", "state"), run_id=_TYPES["int"], job_id=_TYPES["int"],
           state=ANY, tasks={"type": "array"})
ENTRY = _obj(("path", "object_type"), path=_TYPES["str"], object_type=_TYPES["str"])
SCHEMA = _obj(("name", "catalog_name", "full_name"), name=_TYPES["str"],
              catalog_name=_TYPES["str"], full_name=_TYPES["str"])
TABLE = _obj(("name", "catalog_name", "schema_name", "full_name"), name=_TYPES["str"],
             catalog_name=_TYPES["str"], schema_name=_TYPES["str"], full_name=_TYPES["str"],
             columns={"type": "array"})
NAMED = _obj(("name", "full_name"), name=_TYPES["str"], full_name=_TYPES["str"])
FUNCTION = _obj(("full_name", "input_params", "data_type"), full_name=_TYPES["str"],
                input_params=_obj(("parameters",), parameters={"type": "array"}),
                data_type=_TYPES["str"])
MODEL = _obj(("full_name",), full_name=_TYPES["str"], aliases={"type": "array"})
VERSION = _obj(("version",), version=_TYPES["int"], model_name=_TYPES["str"])
ASSIGNMENTS = _list("privilege_assignments")
MONITOR = _obj(("table_name", "output_schema_name", "status"), table_name=_TYPES["str"],
               output_schema_name=_TYPES["str"], status=_TYPES["str"],
               profile_metrics_table_name=_TYPES["str"], drift_metrics_table_name=_TYPES["str"])
MONITOR_UPDATE = ("output_schema_name:str! inference_log:obj time_series:obj snapshot:obj "
                  "baseline_table_name:str slicing_exprs:list schedule:obj notifications:obj "
                  "custom_metrics:list dashboard_id:str")
MONITOR_FIELDS = ("assets_dir:str! skip_builtin_dashboard:bool warehouse_id:str "
                  + MONITOR_UPDATE.replace(" dashboard_id:str", ""))
ACL = _obj(("object_id", "access_control_list"), object_id=_TYPES["str"],
           access_control_list={"type": "array"})
ENDPOINT = _obj(("name", "config", "state"), name=_TYPES["str"], config=ANY, state=ANY)
PRINCIPAL = _obj(("id", "schemas"), id=_TYPES["str"], schemas={"type": "array"})
SCIM_LIST = _obj(("Resources", "totalResults"), Resources={"type": "array"},
                 totalResults=_TYPES["int"])
REFRESH = _obj(("refresh_id", "state"), refresh_id=_TYPES["int"], state=_TYPES["str"])
OBJECT = _obj(("kind", "id", "name", "settings"), kind=_TYPES["str"], id=_TYPES["str"],
              name=_TYPES["str"], settings=ANY)
LOCATION = _obj(("location",), location=_TYPES["str"])
BYTES = "bytes"

J = "/api/2.2/jobs"
UC = "/api/2.1/unity-catalog"
K = "/api/2.0/kiln"
SC = "/api/2.0/preview/scim/v2"
FS_FILE = "/api/2.0/fs/files/Volumes/{catalog}/{schema}/{volume}/{name}"
FS_DIR = "/api/2.0/fs/directories/Volumes/{catalog}/{schema}/{volume}/{dir}"

# (method, path) -> (summary, parameters, answer)
OPERATIONS: dict[tuple[str, str], tuple[str, str, Any]] = {
    ("GET", J + "/list"): ("List jobs", "limit:int page_token:str name:str",
                           _list("jobs", JOB, "has_more", "next_page_token")),
    ("GET", J + "/get"): ("Get a job", "job_id:int!", JOB),
    ("POST", J + "/create"): ("Create a job", "name:str tasks:list", _obj(("job_id",),
                                                                      job_id=_TYPES["int"])),
    ("POST", J + "/reset"): ("Replace a job's settings", "job_id:int! new_settings:obj!", EMPTY),
    ("POST", J + "/update"): ("Change part of a job's settings",
                              "job_id:int! new_settings:obj fields_to_remove:list", EMPTY),
    ("POST", J + "/delete"): ("Delete a job", "job_id:int!", EMPTY),
    ("POST", J + "/run-now"): ("Run a job", "job_id:int! job_parameters:obj python_params:list",
                               _obj(("run_id",), run_id=_TYPES["int"])),
    ("POST", J + "/runs/submit"): ("Run tasks once", "run_name:str tasks:list",
                                   _obj(("run_id",), run_id=_TYPES["int"])),
    ("GET", J + "/runs/get"): ("Get a run", "run_id:int!", RUN),
    ("GET", J + "/runs/list"): ("List runs", "job_id:int limit:int page_token:str",
                                _list("runs", RUN, "has_more", "next_page_token")),
    ("GET", J + "/runs/get-output"): ("A task run's output", "run_id:int!", ANY),
    ("POST", J + "/runs/cancel"): ("Cancel a run", "run_id:int!", EMPTY),
    ("POST", "/api/2.0/token/create"): ("Create a token of one's own",
                                        "comment:str lifetime_seconds:int",
                                        _obj(("token_value", "token_info"),
                                             token_value=_TYPES["str"], token_info=ANY)),
    ("GET", "/api/2.0/token/list"): ("List one's tokens", "", _list("token_infos")),
    ("POST", "/api/2.0/token/delete"): ("Revoke a token", "token_id:str!", EMPTY),
    ("GET", "/api/2.0/permissions/jobs/{id}"): ("A job's access control list", "", ACL),
    ("PUT", "/api/2.0/permissions/jobs/{id}"): ("Set a job's access control list",
                                                "access_control_list:list", ACL),
    ("PATCH", "/api/2.0/permissions/jobs/{id}"): ("Update a job's access control list",
                                                  "access_control_list:list", ACL),
    ("GET", "/api/2.0/permissions/serving-endpoints/{id}"): (
        "An endpoint's access control list", "", ACL),
    ("PUT", "/api/2.0/permissions/serving-endpoints/{id}"): (
        "Set an endpoint's access control list", "access_control_list:list", ACL),
    ("PATCH", "/api/2.0/permissions/serving-endpoints/{id}"): (
        "Update an endpoint's access control list", "access_control_list:list", ACL),
    ("GET", "/api/2.0/workspace/get-status"): ("A workspace path's status", "path:str!", ENTRY),
    ("GET", "/api/2.0/workspace/list"): ("List a workspace folder", "path:str!",
                                         _list("objects", ENTRY)),
    ("POST", "/api/2.0/workspace/mkdirs"): ("Make a workspace folder", "path:str!", EMPTY),
    ("POST", "/api/2.0/workspace/delete"): ("Delete a workspace path",
                                            "path:str! recursive:bool", EMPTY),
    ("POST", "/api/2.0/workspace/import"): (
        "Import a file or notebook",
        "path:str! content:str format:str language:str overwrite:bool", EMPTY),
    ("GET", "/api/2.0/workspace/export"): ("Export a file or notebook", "path:str!",
                                           _obj(("content",), content=_TYPES["str"])),
    ("POST", "/api/2.0/secrets/scopes/create"): ("Create a secret scope", "scope:str!", EMPTY),
    ("POST", "/api/2.0/secrets/scopes/delete"): ("Delete a secret scope", "scope:str!", EMPTY),
    ("GET", "/api/2.0/secrets/scopes/list"): ("List secret scopes", "", _list("scopes")),
    ("POST", "/api/2.0/secrets/put"): ("Put a secret",
                                       "scope:str! key:str! string_value:str bytes_value:str",
                                       EMPTY),
    ("POST", "/api/2.0/secrets/delete"): ("Delete a secret", "scope:str! key:str!", EMPTY),
    ("GET", "/api/2.0/secrets/list"): ("List a scope's keys", "scope:str!", _list("secrets")),
    ("GET", "/api/2.0/secrets/get"): (
        "A secret's value, for a job run's own token while the run is active",
        "scope:str! key:str!", _obj(("key", "value"), key=_TYPES["str"], value=_TYPES["str"])),
    ("GET", UC + "/tables/{name}/monitor"): ("A table's quality monitor", "", MONITOR),
    ("DELETE", UC + "/catalogs/{name}"): ("Delete a catalog (force: with what it holds)",
                                          "force:bool", EMPTY),
    ("DELETE", UC + "/schemas/{name}"): ("Delete a schema (force: with what it holds)",
                                         "force:bool", EMPTY),
    ("DELETE", UC + "/volumes/{name}"): ("Delete a volume and its files", "", EMPTY),
    ("DELETE", UC + "/tables/{name}"): ("Drop a table (a managed table's data too)", "", EMPTY),
    ("POST", UC + "/models"): ("Create a registered model",
                               "catalog_name:str! schema_name:str! name:str! comment:str", MODEL),
    ("PATCH", UC + "/models/{name}"): ("Change a registered model's comment", "comment:str",
                                       MODEL),
    ("DELETE", UC + "/models/{name}"): ("Delete a registered model and its versions", "",
                                        EMPTY),
    ("DELETE", UC + "/models/{name}/versions/{version}"): ("Delete a model version", "", EMPTY),
    ("DELETE", UC + "/models/{name}/aliases/{alias}"): ("Delete an alias", "", EMPTY),
    ("POST", UC + "/tables"): (
        "Create an external Delta table (as a Unity Catalog connector declares one)",
        "catalog_name:str! schema_name:str! name:str! storage_location:str! columns:list "
        "table_type:str data_source_format:str", TABLE),
    ("POST", UC + "/staging-tables"): (
        "Catalog-coordinated managed tables: refused",
        "catalog_name:str! schema_name:str! name:str!", EMPTY),
    ("POST", UC + "/tables/{name}/monitor"): ("Create a table's quality monitor",
                                              MONITOR_FIELDS, MONITOR),
    ("PUT", UC + "/tables/{name}/monitor"): ("Replace a quality monitor's settings",
                                             MONITOR_UPDATE, MONITOR),
    ("DELETE", UC + "/tables/{name}/monitor"): ("Delete a table's quality monitor (its "
                                                "metric tables stay)", "", EMPTY),
    ("POST", UC + "/tables/{name}/monitor/refreshes"): ("Refresh a monitor", "", REFRESH),
    ("GET", UC + "/tables/{name}/monitor/refreshes"): ("A monitor's refreshes", "",
                                                       _list("refreshes", REFRESH)),
    ("GET", UC + "/tables/{name}/monitor/refreshes/{refresh}"): ("A refresh", "", REFRESH),
    ("GET", UC + "/permissions/{type}/{name}"): ("Grants on a securable", "principal:str",
                                                 ASSIGNMENTS),
    ("PATCH", UC + "/permissions/{type}/{name}"): ("Grant and revoke", "changes:list",
                                                   ASSIGNMENTS),
    ("GET", UC + "/effective-permissions/{type}/{name}"): (
        "Grants that hold on a securable", "principal:str", ASSIGNMENTS),
    ("GET", UC + "/catalogs"): ("List catalogs", "", _list("catalogs", NAMED)),
    ("POST", UC + "/catalogs"): ("Create a catalog", "name:str! comment:str", NAMED),
    ("GET", UC + "/catalogs/{name}"): ("Get a catalog", "", NAMED),
    ("GET", UC + "/schemas"): ("List schemas", "catalog_name:str!", _list("schemas", SCHEMA)),
    ("POST", UC + "/schemas"): ("Create a schema", "name:str! catalog_name:str! comment:str",
                                SCHEMA),
    ("GET", UC + "/schemas/{name}"): ("Get a schema", "", SCHEMA),
    ("GET", UC + "/volumes"): ("List volumes", "catalog_name:str! schema_name:str!",
                               _list("volumes", TABLE)),
    ("POST", UC + "/volumes"): ("Create a volume", "name:str! catalog_name:str! "
                                "schema_name:str! volume_type:str comment:str", TABLE),
    ("GET", UC + "/volumes/{name}"): ("Get a volume", "", TABLE),
    ("GET", UC + "/functions"): ("List functions", "catalog_name:str! schema_name:str!",
                                 _list("functions", FUNCTION)),
    ("GET", UC + "/functions/{name}"): ("Get a function", "", FUNCTION),
    ("DELETE", UC + "/functions/{name}"): ("Delete a function", "", EMPTY),
    ("GET", UC + "/tables"): ("List tables", "catalog_name:str! schema_name:str!",
                              _list("tables", TABLE)),
    ("GET", UC + "/tables/{name}"): ("Get a table", "", TABLE),
    ("GET", UC + "/models"): ("List registered models", "catalog_name:str schema_name:str",
                              _list("registered_models", MODEL)),
    ("GET", UC + "/models/{name}"): ("Get a registered model", "", MODEL),
    ("GET", UC + "/models/{name}/versions"): ("List a model's versions", "",
                                              _list("model_versions", VERSION)),
    ("GET", UC + "/models/{name}/versions/{version}"): ("Get a model version", "", VERSION),
    ("GET", UC + "/models/{name}/aliases/{alias}"): ("The version an alias names", "",
                                                     VERSION),
    ("PUT", UC + "/models/{name}/aliases/{alias}"): ("Set an alias", "version_num:int!",
                                                     _obj(("alias_name", "version_num"),
                                                          alias_name=_TYPES["str"],
                                                          version_num=_TYPES["int"])),
    ("GET", K + "/catalog/table-info"): ("A table's registration", "name:str!",
                                         _obj(table={"type": ["object", "null"]})),
    ("GET", K + "/catalog/location"): ("Where a table's files are", "name:str! privilege:str",
                                       LOCATION),
    ("POST", K + "/catalog/new-table"): ("Where a new table's first write goes",
                                         "name:str! location:str", LOCATION),
    ("POST", K + "/catalog/created"): ("Register a table just written",
                                       "name:str! location:str! rows:int", EMPTY),
    ("POST", K + "/catalog/written"): ("Record a write", "name:str! mode:str! version:int! "
                                       "rows:int record:bool evolved:bool task_key:str "
                                       "mlflow_run_id:str", EMPTY),
    ("POST", K + "/catalog/record"): ("Record a read or write", "name:str! op:str! version:int "
                                      "task_key:str mlflow_run_id:str", EMPTY),
    ("GET", K + "/catalog/tables"): ("Table names", "schema:str", _list("tables", {
        "type": "string"})),
    ("POST", K + "/catalog/annotate"): ("Keep a table's properties",
                                        "name:str! properties:obj!", EMPTY),
    ("POST", K + "/catalog/functions"): ("Register a CREATE FUNCTION", "sql:str!", ANY),
    ("GET", K + "/catalog/function"): ("A catalog function", "name:str!", ANY),
    ("POST", K + "/catalog/path-access"): ("Check a volume path's privilege",
                                           "path:str! write:bool", EMPTY),
    ("GET", K + "/catalog/online-store"): ("Where the online store is", "", LOCATION),
    ("POST", K + "/models/validations"): (
        "Record a validation's outcome", "name:str! version:str! status:str! run_mode:str! "
        "metrics:obj baseline_version:str baseline_metrics:obj message:str checked:list", EMPTY),
    ("POST", K + "/models/deploy"): ("Deploy a validated version", "name:str! version:str! "
                                     "alias:str force:bool reason:str",
                                     _obj(previous={"type": ["string", "null"]})),
    ("GET", K + "/objects/get"): ("A workspace object", "kind:str! id:str!", OBJECT),
    ("GET", K + "/objects/list"): ("Workspace objects", "kind:str bundle_ref_prefix:str "
                                   "name:str", _list("objects", OBJECT)),
    ("POST", K + "/objects/create"): ("Create an object", "kind:str! name:str! settings:obj! "
                                      "bundle_ref:str", OBJECT),
    ("POST", K + "/objects/update"): ("Change an object", "kind:str! id:str! name:str! "
                                      "settings:obj!", OBJECT),
    ("POST", K + "/objects/delete"): ("Delete an object", "kind:str! id:str!", EMPTY),
    ("POST", K + "/files/write"): ("Write a file", "path:str! content:str!", EMPTY),
    ("GET", K + "/files/read"): ("Read a file", "path:str!", _obj(("content",),
                                                                  content=_TYPES["str"])),
    ("POST", K + "/files/delete"): ("Delete a path", "path:str! recursive:bool", EMPTY),
    ("GET", K + "/files/list-all"): ("Files under a path", "path:str!", _list("files")),
    ("POST", K + "/files/mkdirs"): ("Make a directory", "path:str!", EMPTY),
    ("GET", K + "/files/kind"): ("What a path is", "path:str!", _obj(kind={
        "type": ["string", "null"]})),
    ("GET", K + "/files/list-dir"): ("A directory's entries", "path:str!", _list("entries")),
    ("POST", K + "/deploy/lock"): ("Take the deploy lock", "state_id:str! holder:str! "
                                   "force:bool", _obj(("lock_id",), lock_id=_TYPES["str"])),
    ("POST", K + "/deploy/unlock"): ("Release the deploy lock", "state_id:str! lock_id:str!",
                                     EMPTY),
    ("GET", K + "/deploy/state"): ("The deploy state", "state_id:str!",
                                   _obj(("state",), state={"type": ["object", "null"]})),
    ("POST", K + "/deploy/state"): ("Write the deploy state", "state:obj!", EMPTY),
    ("POST", K + "/deploy/state/delete"): ("Delete the deploy state", "state_id:str!", EMPTY),
    ("POST", K + "/audit"): ("Write an audit entry", "action:str! target:str! detail:obj",
                             EMPTY),
    ("PUT", FS_FILE): ("Upload a volume file", "overwrite:bool", EMPTY),
    ("GET", FS_FILE): ("Download a volume file", "", BYTES),
    ("DELETE", FS_FILE): ("Delete a volume file", "", EMPTY),
    ("GET", FS_DIR): ("List a volume directory", "", _list("contents")),
    ("PUT", FS_DIR): ("Make a volume directory", "", EMPTY),
    ("DELETE", FS_DIR): ("Delete a volume directory", "", EMPTY),
    ("GET", "/api/2.0/serving-endpoints"): ("List serving endpoints", "",
                                            _list("endpoints", ENDPOINT)),
    ("POST", "/api/2.0/serving-endpoints"): ("Create a serving endpoint",
                                             "name:str! config:obj ai_gateway:obj", ENDPOINT),
    ("GET", "/api/2.0/serving-endpoints/{name}"): ("Get a serving endpoint", "", ENDPOINT),
    ("PUT", "/api/2.0/serving-endpoints/{name}/config"): (
        "Update an endpoint's config", "served_entities:list traffic_config:obj", ENDPOINT),
    ("DELETE", "/api/2.0/serving-endpoints/{name}"): ("Delete a serving endpoint", "", EMPTY),
    ("GET", SC + "/Me"): ("The current user", "", PRINCIPAL),
    ("GET", "/api/openapi.json"): ("This document", "", ANY),
    ("PATCH", SC + "/Groups/{id}"): ("Add or remove group members", "Operations:list",
                                     PRINCIPAL),
}
for _kind, _create in (("Users", "userName:str! displayName:str"),
                       ("Groups", "displayName:str! members:list"),
                       ("ServicePrincipals", "displayName:str! applicationId:str")):
    OPERATIONS[("GET", f"{SC}/{_kind}")] = (f"List {_kind}", "startIndex:int count:int",
                                            SCIM_LIST)
    OPERATIONS[("POST", f"{SC}/{_kind}")] = (f"Create one of {_kind}", _create, PRINCIPAL)
    OPERATIONS[("GET", f"{SC}/{_kind}/{{id}}")] = (f"Get one of {_kind}", "", PRINCIPAL)
    OPERATIONS[("DELETE", f"{SC}/{_kind}/{{id}}")] = (f"Delete one of {_kind}", "", EMPTY)

def doc_path(pattern: str) -> str:
    """The OpenAPI path of a route pattern: named groups become ``{name}``."""
    path = pattern.replace("2.[12]", "2.2")
    if "(?P<path>/Volumes/" in path:  # a volume path: four segments at least
        return FS_FILE if "/fs/files" in path else FS_DIR
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", path)


def _param(spec: str) -> tuple[str, dict[str, Any], bool]:
    name, _, kind = spec.partition(":")
    return name, _TYPES[kind.rstrip("!")], kind.endswith("!")


_PY: dict[str, Any] = {"str": str, "int": int, "bool": bool, "obj": dict[str, Any],
                       "list": list[Any]}


def request_model(method: str, path: str) -> type[BaseModel] | None:
    """The pydantic model of a route's query or JSON-body parameters (None: it takes
    none). Lax, as a query string is text: ``"5"`` is an int, ``"true"`` a bool; fields
    the route does not name are let through (Databricks' clients send more than kiln
    reads)."""
    _summary, params, _answer = OPERATIONS[method, path]
    if not params.split():
        return None
    fields: dict[str, Any] = {}
    for spec in params.split():
        name, _, kind = spec.partition(":")
        py = _PY[kind.rstrip("!")]
        fields["p_" + name] = ((py, Field(alias=name)) if kind.endswith("!")
                               else (py | None, Field(None, alias=name)))
    return create_model(_operation_id(method, path), __config__=ConfigDict(extra="allow"),
                        **fields)


def check_requests(router: Router) -> None:
    """Each route's handler, behind the check of its request model."""
    for i, (method, rx, handler) in enumerate(router.routes):
        path = doc_path(rx.pattern[:-2])
        model = request_model(method, path) if (method, path) in OPERATIONS else None
        if model is not None and path != FS_FILE:
            router.routes[i] = (method, rx, _checked(model, handler))


def _checked(model: type[BaseModel], handler: Any) -> Any:
    def run(req: Any) -> Any:
        given = {k: v[0] for k, v in req.query.items()}
        if isinstance(req.body, dict):
            given.update(req.body)
        try:
            model.model_validate(given)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise KilnError(f"invalid value for {where}: {first['msg'].lower()}"
                            if first["type"] != "missing" else
                            f"missing required parameter: {where}") from None
        return handler(req)
    return run


def describe(router: Router) -> dict[str, Any]:
    """The OpenAPI document of every route; a route without a description is an error."""
    paths: dict[str, dict[str, Any]] = {}
    for method, rx, _ in router.routes:
        path = doc_path(rx.pattern[:-2])
        if (method, path) not in OPERATIONS:
            raise KeyError(f"no OpenAPI description of {method} {path}")
        summary, params, answer = OPERATIONS[method, path]
        op: dict[str, Any] = {"summary": summary, "operationId": _operation_id(method, path),
                              "security": [{"bearer": []}], "responses": _responses(answer)}
        parameters = [{"name": n, "in": "path", "required": True,
                       "schema": _TYPES["int"] if n in ("refresh", "version") or
                       (n == "id" and "/jobs/" in path) else
                       {"type": "string", "pattern": "^[^/]+$", "minLength": 1}}
                      for n in re.findall(r"{(\w+)}", path)]
        fields = [_param(p) for p in params.split()]
        if method in ("GET", "DELETE") or path == FS_FILE:
            parameters += [{"name": n, "in": "query", "required": req, "schema": t}
                           for n, t, req in fields]
        elif method != "DELETE" or fields:
            body = _obj(tuple(n for n, _, req in fields if req), **{n: t for n, t, _ in fields})
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": body}}}
        if path == FS_FILE and method == "PUT":
            op["requestBody"] = {"required": True, "content": {
                "application/octet-stream": {"schema": {"type": "string",
                                                        "format": "binary"}}}}
        if parameters:
            op["parameters"] = parameters
        paths.setdefault(path, {})[method.lower()] = op
    return {"openapi": "3.1.0",
            "info": {"title": "kiln server", "version": "2.0",
                     "description": "The REST API of a kiln workspace, in Databricks' shapes."},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                           "schemas": {"Error": ERROR}},
            "paths": paths}


def _responses(answer: Any) -> dict[str, Any]:
    err = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    out: dict[str, Any] = {str(code): {"description": text, **err} for code, text in (
        (400, "Invalid request"), (401, "No valid token"), (403, "Permission denied"),
        (404, "Does not exist"), (409, "Conflict"))}
    if answer == BYTES:
        out["200"] = {"description": "The file", "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
    else:
        out["200"] = {"description": "OK", "content": {"application/json": {"schema": answer}}}
    return out


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", path.replace("/api/", "")).strip("_")
    return f"{method.lower()}_{words}"
