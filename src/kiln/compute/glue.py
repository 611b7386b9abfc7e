"""The workspace catalog as the Spark engine sees it: a small AWS Glue Data Catalog API.

The embedded engine (Sail) keeps no table names of its own; it asks a catalog service.
Of the services it can ask, Glue is the one whose Delta tables stay plain Delta tables
(its Unity Catalog client makes managed tables "catalog-managed", which delta-rs, and so
``kiln.tables`` and ``kiln sql``, cannot read). So each kiln catalog is a Glue catalog
(``CatalogId`` = the catalog's name) served here over the workspace's own catalog: a
schema Spark creates is a kiln schema, a table Spark creates is registered in kiln, and
every kiln table is visible to Spark by its three-level name.

Only the operations the engine calls are served (JSON 1.1 over HTTP, ``X-Amz-Target``),
each answered from ``kiln.catalog.Catalog``; requests are not signed-checked: the
endpoint listens on 127.0.0.1 for its own engine only.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from kiln.catalog import Catalog
from kiln.catalog.types import sql_type
from kiln.errors import KilnError, PermissionDenied
from kiln.workspace import AlreadyExists, NotFound

DELTA = {"spark.sql.sources.provider": "delta"}

class GlueCatalog:
    """The Glue operations over one workspace's catalog. Pure of HTTP: ``call(op, body)``."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.lock = threading.Lock()

    @contextlib.contextmanager
    def _changing(self) -> Iterator[None]:
        """One change to the registry at a time."""
        with self.lock:
            yield

    def call(self, op: str, body: dict[str, Any]) -> dict[str, Any]:
        """One Glue operation; kiln's errors as Glue's (a missing privilege says which)."""
        handler: Callable[[dict[str, Any]], dict[str, Any]] | None = getattr(
            self, "op_" + op, None)
        if handler is None:
            raise _GlueError("InvalidInputException", f"kiln does not serve Glue {op}")
        try:
            return handler(body)
        except AlreadyExists as e:
            raise _GlueError("AlreadyExistsException", str(e)) from None
        except NotFound as e:
            raise _GlueError("EntityNotFoundException", str(e)) from None
        except PermissionDenied as e:  # (Glue's GetTable has no AccessDeniedException: the
            # engine would drop the message of an error type the operation does not declare)
            raise _GlueError("InvalidInputException", f"PERMISSION_DENIED: {e}") from None
        except KilnError as e:
            raise _GlueError("InvalidInputException", str(e)) from None

    # databases = schemas -------------------------------------------------------------
    def _database(self, cat: str, name: str) -> dict[str, Any]:
        info = self.catalog.schema(cat, name)
        if info is None:
            raise _GlueError("EntityNotFoundException",
                             f"schema {cat}.{name} does not exist")
        return {"Name": name, "CatalogId": cat, "Description": info.get("comment") or "",
                "LocationUri": self.catalog.schema_root(cat, name)}

    def op_GetDatabase(self, b: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return {"Database": self._database(b["CatalogId"], b["Name"].lower())}

    def op_GetDatabases(self, b: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        cat = b["CatalogId"]
        return {"DatabaseList": [self._database(cat, s)
                                 for s in self.catalog.schema_names(cat)]}

    def op_CreateDatabase(self, b: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        d = b["DatabaseInput"]
        with self._changing():
            self.catalog.create_schema(b["CatalogId"], d["Name"], d.get("Description"))
        return {}

    def op_DeleteDatabase(self, b: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        with self._changing():
            self.catalog.delete("schemas", f"{b['CatalogId']}.{b['Name']}")
        return {}

    # tables --------------------------------------------------------------------------
    def _table(self, cat: str, db: str, name: str) -> dict[str, Any]:
        full = f"{cat}.{db}.{name}".lower()
        info = self.catalog.table_info(full)
        if info is None:
            raise _GlueError("EntityNotFoundException", f"table {full} does not exist")
        columns = [{"Name": c["name"], "Type": t} for c in info.get("columns") or []
                   if (t := sql_type(str(c.get("type")))) is not None]
        return {"Name": name.lower(), "DatabaseName": db.lower(), "CatalogId": cat,
                "TableType": "EXTERNAL_TABLE" if info.get("table_type") == "EXTERNAL"
                else "MANAGED_TABLE", "Parameters": dict(DELTA),
                "StorageDescriptor": {"Location": info["location"], "Columns": columns}}

    def op_GetTable(self, b: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return {"Table": self._table(b["CatalogId"], b["DatabaseName"], b["Name"])}

    def op_GetTables(self, b: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        cat, db = b["CatalogId"], b["DatabaseName"].lower()
        self._database(cat, db)
        return {"TableList": [self._table(cat, db, t.rsplit(".", 1)[1])
                              for t in self.catalog.list_tables(f"{cat}.{db}")]}

    def op_CreateTable(self, b: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        t = b["TableInput"]
        params = {k.lower(): v for k, v in (t.get("Parameters") or {}).items()}
        provider = params.get("spark.sql.sources.provider", "").lower()
        full = f"{b['CatalogId']}.{b['DatabaseName']}.{t['Name']}"
        if provider != "delta":
            raise _GlueError("InvalidInputException",
                             f"table {full}: kiln's catalog holds Delta tables; write it "
                             f"with format('delta') (got {provider or 'no format'})")
        sd = t.get("StorageDescriptor") or {}
        location = str(sd.get("Location") or "")
        columns = [{"name": c["Name"], "type": c.get("Type", "")}
                   for c in (sd.get("Columns") or []) + (t.get("PartitionKeys") or [])]
        with self._changing():
            self.catalog.register(full, location, columns)
        return {}

    def op_UpdateTable(self, b: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        # the Delta log holds the schema; the registry keeps the name and the location
        self._table(b["CatalogId"], b["DatabaseName"], b["TableInput"]["Name"])
        return {}

    def op_DeleteTable(self, b: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        full = f"{b['CatalogId']}.{b['DatabaseName']}.{b['Name']}"
        with self._changing():
            if self.catalog.table_info(full) is None:
                raise NotFound(f"table {full.lower()} does not exist")
            self.catalog.drop(full)
        return {}


class _GlueError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def serve(glue: GlueCatalog) -> ThreadingHTTPServer:
    """Serve ``glue`` on 127.0.0.1 (a free port) in a background thread."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, doc: dict[str, Any]) -> None:
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802
            size = int(self.headers.get("Content-Length") or 0)
            op = (self.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
            try:
                body = json.loads(self.rfile.read(size) or b"{}")
                self._send(200, glue.call(op, body))
            except _GlueError as e:
                self._send(400, {"__type": e.kind, "Message": str(e)})
            except Exception as e:  # noqa: BLE001 - the engine shows the message to the user
                self._send(500, {"__type": "InternalServiceException",
                                 "Message": f"{type(e).__name__}: {e}"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
