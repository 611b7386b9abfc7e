"""The catalog's answers to the tasks a kiln server runs (``/api/2.0/kiln/catalog/...``):
one path per ``kiln.catalog.data.TableMeta`` call, so that ``kiln.tables``, the Feature
Engineering client and Spark in a task read and write a table's Delta files only after the
server has checked the user's privileges, and the server registers, audits and puts in the
lineage what they wrote (``kiln.workspace.task_client`` is the client).

Every call acts as the request's user. Lineage names the job run of the request's token
(a run's own token; a person's token names none), never one the body claims; the task and
the MLflow run come from the body.
"""

from __future__ import annotations

from typing import Any, Callable

from kiln.catalog.tables import Catalog
from kiln.run_context import RunContext
from kiln.server.http import Request, Router
from kiln.workspace import Workspace

BASE = "/api/2.0/kiln/catalog"


def add_routes(r: Router, ws_of: Callable[[Request], Workspace]) -> None:
    def cat(req: Request) -> Catalog:
        return Catalog(ws_of(req), context=RunContext(req.run_id, req.arg("task_key"),
                                                      req.arg("mlflow_run_id")))

    def name(req: Request) -> str:
        return str(req.required("name"))

    r.add("GET", BASE + "/table-info", lambda req: {"table": cat(req).table_info(name(req))})
    r.add("GET", BASE + "/location", lambda req: {"location": cat(req).location(
        name(req), _privilege(req))})
    r.add("POST", BASE + "/new-table", lambda req: {"location": cat(req).new_table(
        name(req), req.arg("location"))})
    r.add("POST", BASE + "/created", lambda req: cat(req).created(
        name(req), req.required("location"), req.arg("rows", 0, int)))
    r.add("POST", BASE + "/written", lambda req: cat(req).written(
        name(req), req.required("mode"), req.required("version", int), req.arg("rows", 0, int),
        req.arg("record", True, bool), req.arg("evolved", False, bool)))
    r.add("POST", BASE + "/record", lambda req: _record(cat(req), name(req), req))
    r.add("GET", BASE + "/tables", lambda req: {"tables": cat(req).list_tables(
        req.arg("schema"))})
    r.add("POST", BASE + "/annotate", lambda req: cat(req).annotate(
        name(req), req.required("properties", dict)))
    r.add("POST", BASE + "/functions", lambda req: cat(req).create_function(
        req.required("sql")))
    r.add("GET", BASE + "/function", lambda req: cat(req).function(name(req)))
    r.add("POST", BASE + "/path-access", lambda req: cat(req).require_path(
        req.required("path"), req.arg("write", False, bool)))
    r.add("GET", BASE + "/online-store", lambda req: {"location": cat(req).online_root()})


def _privilege(req: Request) -> str:
    from kiln.errors import KilnError

    privilege = str(req.arg("privilege", "SELECT")).upper()
    if privilege not in ("SELECT", "MODIFY"):
        raise KilnError(f"privilege must be SELECT or MODIFY, not {privilege!r}")
    return privilege


def _record(catalog: Catalog, table: str, req: Request) -> dict[str, Any]:
    """Lineage of a read or write the task made; the table must be visible to the user."""
    from kiln.errors import KilnError

    op = req.required("op")
    if op not in ("read", "write"):
        raise KilnError(f"op must be read or write, not {op!r}")
    if op == "write":
        catalog.location(table, "MODIFY")
    elif catalog.table_info(table) is None:
        return {}  # not a catalog table: nothing to record
    catalog.record(table, op, req.arg("version", None, int))
    return {}
