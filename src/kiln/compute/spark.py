"""``spark`` for task code and local sessions: a PySpark Connect session on the
workspace's compute (or on a remote Spark Connect URL), made the first time it is used.

Where the session points:
1. ``KILN_SPARK_REMOTE`` (or the task cluster's ``spark_conf["spark.remote"]``): a Spark
   Connect URL such as ``sc://host:15002``; the engine there has its own catalog.
2. otherwise the workspace's embedded server (``kiln.compute.cluster``), started on demand.

On the embedded engine kiln adds what a Databricks cluster has and Sail lacks: Delta as
the default table format, workspace paths (``/Volumes/...``, ``dbfs:/...``) mapped into the
workspace in every plan the client sends, and ``mode("overwrite").saveAsTable`` of an
existing table as an overwrite of its Delta data (Sail's Glue catalog cannot replace a
table). Stdlib at import: PySpark loads only when ``spark`` is first touched.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

from kiln.errors import KilnError, PermissionDenied

_lock = threading.Lock()
_session: Any = None
_config: dict[str, Any] = {}


def configure(*, workspace_dir: str | None, conf: dict[str, str] | None = None,
              remote: str | None = None, anchor: int | None = None) -> None:
    """What the next ``session()`` uses (the task runtime calls this before user code)."""
    _config.update(workspace_dir=workspace_dir, conf=dict(conf or {}), remote=remote,
                   anchor=anchor)


def remote_url(conf: dict[str, str] | None = None) -> str | None:
    return (os.environ.get("KILN_SPARK_REMOTE") or (conf or {}).get("spark.remote")
            or None)


def session() -> Any:
    """The process's SparkSession, created on first use."""
    global _session
    with _lock:
        if _session is None:
            _session = _create()
        return _session


def _create() -> Any:
    workspace_dir = _config.get("workspace_dir") or os.environ.get("KILN_WORKSPACE_DIR")
    conf = dict(_config.get("conf") or {})
    remote = _config.get("remote") or remote_url(conf)
    embedded = remote is None
    # PySpark's Connect client takes a __main__ without __file__ (python -c, some notebook
    # kernels) for a doctest run and exits looking for a JVM Spark home: name one
    os.environ.setdefault("SPARK_HOME", os.path.dirname(os.path.dirname(os.__file__)))
    user = None
    if embedded:
        if not workspace_dir:
            raise KilnError("spark needs a workspace: run the code as a kiln job task, in "
                            "a session bound with eval \"$(kiln env -t TARGET)\", or set "
                            "KILN_SPARK_REMOTE to a Spark Connect URL")
        from kiln.compute import cluster
        from kiln.workspace.task_client import task_client

        # a workspace with admins enforces privileges: each user's Spark is their own.
        # Asked before the prefetch starts: two threads importing at once (the workspace's
        # store imports asyncio, as the client's modules do) can find a module half made
        enforced = task_client(workspace_dir=workspace_dir).enforces_grants()
        user = os.environ.get("KILN_USER") if enforced else None
    # the Connect client's imports (gRPC, Arrow, pandas) overlap with the server's start,
    # during which this thread imports nothing
    prefetch = threading.Thread(target=_import_client, daemon=True)
    prefetch.start()
    if embedded:
        state = cluster.ensure(workspace_dir, client=os.getpid(),
                               anchor=_config.get("anchor") or os.getpid(), user=user or None)
        remote = state["url"]
        _config["server_pid"] = state["pid"]
    prefetch.join()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.remote(remote)
    spark = builder.getOrCreate()
    if embedded:
        spark.conf.set("spark.sql.sources.default", "delta")  # Databricks' default format
        _map_paths(spark, workspace_dir)  # type: ignore[arg-type]
        _overwrite_as_delta_write(workspace_dir)  # type: ignore[arg-type]
        _functions_in_catalog(workspace_dir)  # type: ignore[arg-type]
    for key, value in conf.items():
        if key == "spark.remote":
            continue
        try:
            spark.conf.set(key, value)
        except Exception:  # noqa: BLE001 - cluster-only settings (spark.databricks.*)
            pass
    _add_display()
    return spark


def _import_client() -> None:
    try:
        import pyspark.sql.connect.session  # noqa: F401
    except Exception:  # noqa: BLE001 - the import is retried, and reported, by the caller
        pass


# workspace paths -------------------------------------------------------------------
_QUOTED = re.compile(r"(?P<q>[`'\"])(?P<path>(?:dbfs:)?/(?:Volumes|dbfs|Workspace)/[^`'\"]*|"
                     r"dbfs:/[^`'\"]*)(?P=q)")


def local_path(workspace_dir: str, path: str) -> str:
    """A workspace path (``/Volumes/...``, ``dbfs:/...``, ``/dbfs/...``) as a local path;
    other paths unchanged."""
    from kiln.workspace.local.paths import local_path as ws_local

    p = path
    if p.startswith("dbfs:"):
        p = p[len("dbfs:"):]
        if not p.startswith("/Volumes/"):
            return ws_local(workspace_dir, p)
    elif p.startswith("/dbfs/"):
        return ws_local(workspace_dir, p[len("/dbfs"):])
    if p.startswith(("/Volumes/", "/Workspace/")):
        return ws_local(workspace_dir, p)
    return path


def map_sql(workspace_dir: str, text: str) -> str:
    """Quoted workspace paths in SQL (``delta.`/Volumes/...` ``, ``LOCATION '...'``)."""
    return _QUOTED.sub(lambda m: m["q"] + local_path(workspace_dir, m["path"]) + m["q"], text)


_WRITE_SQL = re.compile(r"\b(?:INSERT\s+(?:INTO|OVERWRITE)(?:\s+TABLE)?|MERGE\s+INTO|"
                        r"TABLE|UPDATE|DELETE\s+FROM)\s+(`?\w+`?\.`?\w+`?\.`?\w+`?)",
                        re.IGNORECASE)
_NAME3 = re.compile(r"(?<![\w.`/])(`?[A-Za-z_]\w*`?\.`?[A-Za-z_]\w*`?\.`?[A-Za-z_]\w*`?)"
                    r"(?![\w.`])")


def _rewrite(msg: Any, workspace_dir: str, tables: dict[str, str]) -> None:
    """Map workspace paths in every path-like field of a Spark Connect request, and
    collect the tables it reads and writes (``tables``: name -> read | write)."""
    for field, value in msg.ListFields():
        name = field.name
        if field.type == field.TYPE_MESSAGE:
            if field.message_type.GetOptions().map_entry:
                if "path" in value:
                    value["path"] = local_path(workspace_dir, value["path"])
                continue
            for item in (value if field.is_repeated else [value]):
                _rewrite(item, workspace_dir, tables)
        elif field.type == field.TYPE_STRING:
            if name in ("paths", "path", "location"):
                if field.is_repeated:
                    value[:] = [local_path(workspace_dir, v) for v in value]
                else:
                    setattr(msg, name, local_path(workspace_dir, value))
            elif name in ("query", "sql"):
                setattr(msg, name, map_sql(workspace_dir, value))
                code = _unquoted(value)
                for m in _NAME3.finditer(code):
                    tables.setdefault(m[1].replace("`", "").lower(), "read")
                for m in _WRITE_SQL.finditer(code):
                    tables[m[1].replace("`", "").lower()] = "write"
            elif name == "unparsed_identifier" and not field.is_repeated:
                tables.setdefault(value.replace("`", "").lower(), "read")
            elif name == "table_name" and not field.is_repeated:
                tables[value.replace("`", "").lower()] = "write"


def _unquoted(sql: str) -> str:
    """SQL without its string literals (a name inside quotes is not a table)."""
    return re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "''", sql)


class _MappingStub:
    """The client's gRPC stub, mapping workspace paths in plans before they are sent."""

    def __init__(self, stub: Any, workspace_dir: str) -> None:
        self._stub = stub
        self._dir = workspace_dir
        self._catalog: Any = None  # made at the first catalog table a query names

    def ExecutePlan(self, req: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
        tables: dict[str, str] = {}
        _rewrite(req, self._dir, tables)
        self._record(tables, "read")
        responses = self._stub.ExecutePlan(req, *args, **kwargs)
        return _after(responses, lambda: self._record(tables, "write")) \
            if "write" in tables.values() else responses

    def AnalyzePlan(self, req: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
        _rewrite(req, self._dir, {})
        return self._stub.AnalyzePlan(req, *args, **kwargs)

    def _record(self, tables: dict[str, str], op: str) -> None:
        """Lineage of the task's reads and writes of catalog tables."""
        names = [t for t, how in tables.items() if how == op]
        if not names:
            return
        from kiln.tables import _catalog

        try:
            if self._catalog is None:
                self._catalog = _catalog(self._dir)
            for name in names:
                self._catalog.record(name, op)
        except Exception as e:  # noqa: BLE001 - lineage must never fail the user's query
            import sys

            print(f"kiln: lineage of {', '.join(names)} not recorded: {e}", file=sys.stderr)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stub, name)


def _after(responses: Any, then: Any) -> Any:
    """The response stream, calling ``then`` once it is fully read."""
    yield from responses
    then()


def _map_paths(spark: Any, workspace_dir: str) -> None:
    client = spark.client
    client._stub = _MappingStub(client._stub, workspace_dir)
    client.set_retry_policies([_while_server_lives(int(_config.get("server_pid") or 0))])


def _while_server_lives(pid: int) -> Any:
    """PySpark's retries (transient errors, for up to ten minutes), but none once the
    embedded server's process is gone: the task fails at once, with a clear message."""
    from pyspark.sql.connect.client.retries import DefaultPolicy

    from kiln.pids import alive

    class WhileServerLives(DefaultPolicy):  # type: ignore[misc]
        def can_retry(self, e: BaseException) -> bool:
            return alive(pid) and super().can_retry(e)

    return WhileServerLives()


def _functions_in_catalog(workspace_dir: str) -> None:
    """``spark.sql("CREATE FUNCTION ... LANGUAGE PYTHON AS $$ ... $$")`` registers the
    function in the workspace's catalog, as on Databricks (the engine has no catalog
    functions of its own)."""
    from pyspark.sql.connect.session import SparkSession

    if getattr(SparkSession.sql, "_kiln", False):
        return
    original = SparkSession.sql

    def sql(self: Any, sqlQuery: str, *args: Any, **kwargs: Any) -> Any:  # noqa: N803
        from kiln.catalog.functions import is_create_function

        if isinstance(sqlQuery, str) and is_create_function(sqlQuery):
            from kiln.tables import _catalog

            _catalog(workspace_dir).meta.create_function(sqlQuery)
            return self.createDataFrame([], "result string")
        return original(self, sqlQuery, *args, **kwargs)

    sql._kiln = True  # type: ignore[attr-defined]
    SparkSession.sql = sql  # type: ignore[method-assign]


def _overwrite_as_delta_write(workspace_dir: str) -> None:
    from pyspark.sql.connect.readwriter import DataFrameWriter

    if getattr(DataFrameWriter.saveAsTable, "_kiln", False):
        return
    original = DataFrameWriter.saveAsTable

    def saveAsTable(self: Any, name: str, format: str | None = None,  # noqa: N802,A002
                    mode: str | None = None, partitionBy: Any = None,  # noqa: N803
                    **options: Any) -> None:
        if (mode or self._write.mode or "").lower() == "overwrite":
            from kiln.catalog import parse_name
            from kiln.tables import _catalog

            catalog = _catalog(workspace_dir)
            try:
                full = str(parse_name(_qualified(self._spark, name)))
                info = catalog.table_info(full)
            except PermissionDenied:
                raise
            except KilnError:
                info = None
            if info is not None:
                catalog.location(full, "MODIFY")  # overwriting is writing: MODIFY
                self.mode("overwrite").option("overwriteSchema", "true")
                if partitionBy is not None:
                    self.partitionBy(partitionBy)
                self.options(**options)
                self.format(format or self._write.source or "delta")
                self.save(info["location"])
                catalog.record(full, "write")
                return None
            mode = "error"  # overwriting a table that does not exist creates it
        return original(self, name, format=format, mode=mode, partitionBy=partitionBy,
                        **options)

    saveAsTable._kiln = True  # type: ignore[attr-defined]
    DataFrameWriter.saveAsTable = saveAsTable  # type: ignore[method-assign]


def _qualified(spark: Any, name: str) -> str:
    parts = name.split(".")
    if len(parts) == 3:
        return name
    if len(parts) == 2:
        return f"{spark.catalog.currentCatalog()}.{name}"
    return f"{spark.catalog.currentCatalog()}.{spark.catalog.currentDatabase()}.{name}"


# display -------------------------------------------------------------------------
def show(obj: Any, limit: int = 20) -> bool:
    """Print a Spark DataFrame as a table; False when ``obj`` is not one."""
    to_pandas = getattr(obj, "toPandas", None)
    if not callable(to_pandas) or not hasattr(obj, "limit"):
        return False
    frame = obj.limit(limit + 1).toPandas()
    more = len(frame) > limit
    print(frame.head(limit).to_string(index=False))
    if more:
        print(f"(showing the first {limit} rows)")
    return True


def _add_display() -> None:
    from pyspark.sql.connect.dataframe import DataFrame

    if not hasattr(DataFrame, "display"):
        DataFrame.display = lambda self, *a, **k: show(self)  # type: ignore[attr-defined]


# errors --------------------------------------------------------------------------
def explain_failure(exc: BaseException, workspace_dir: str | None) -> str | None:
    """A clear message when a task failed because the embedded server went away."""
    if _session is None or _config.get("remote") or workspace_dir is None:
        return None
    mod = type(exc).__module__ or ""
    if not (mod.startswith(("pyspark", "grpc"))):
        return None
    from kiln.compute import cluster

    if cluster.alive(int(_config.get("server_pid") or 0)):
        return None
    return ("the workspace's Spark compute server stopped while this task was using it "
            f"({type(exc).__name__}); the next task starts a new one. Its log: "
            "kiln clusters logs")


# SparkSession.builder.getOrCreate() -------------------------------------------------
def _patch_builder(module: Any) -> None:
    builder = module.SparkSession.Builder
    original = builder.getOrCreate

    def getOrCreate(self: Any) -> Any:  # noqa: N802
        if "spark.remote" in self._options or os.environ.get("SPARK_REMOTE"):
            return original(self)
        spark = session()
        for key, value in self._options.items():
            if key not in ("spark.master", "spark.app.name"):
                try:
                    spark.conf.set(key, value)
                except Exception:  # noqa: BLE001 - settings only a JVM cluster knows
                    pass
        return spark

    builder.getOrCreate = getOrCreate


def install_builder_hook() -> None:
    """``SparkSession.builder.getOrCreate()`` returns this process's session once user
    code imports PySpark."""
    from kiln.importhooks import after_import

    after_import("pyspark.sql.session", _patch_builder)
