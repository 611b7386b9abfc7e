"""The data of catalog tables: reading, writing and querying their Delta files (delta-rs,
DuckDB) where the process runs, with every decision about names, privileges, registration,
audit and lineage asked of the catalog (``TableMeta``).

The catalog answers in process (``kiln.catalog.Catalog``) or, for the tasks a kiln server
runs, over its REST API (``kiln.workspace.task_client``): the same ``Tables`` reads and
writes the same files either way, as a Databricks engine reads a table's storage location
once Unity Catalog has said it may.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, Protocol

from kiln.catalog import delta_io
from kiln.catalog.names import FullName, parse_name
from kiln.errors import KilnError, NotFound

if TYPE_CHECKING:
    import pyarrow as pa

MODES = ("append", "overwrite", "merge")


class TableMeta(Protocol):
    """What reading and writing tables asks of the catalog, as the current user."""

    def table_info(self, table: str) -> dict[str, Any] | None:
        """The table's registration (location, type, columns, properties), or None; seeing
        it needs SELECT or MODIFY."""

    def location(self, table: str, privilege: str = "SELECT") -> str:
        """Where the table's Delta files are, once ``privilege`` on it is checked."""

    def new_table(self, table: str, location: str | None) -> str:
        """Where a new table's first write goes (its managed place, or ``location``), once
        its schema exists, the name is free and the user may create tables there."""

    def created(self, table: str, where: str, rows: int) -> None:
        """Register the table whose first version was just written at ``where``."""

    def written(self, table: str, mode: str, version: int, rows: int, record: bool,
                evolved: bool = False) -> None:
        """A write made ``version``: audited and put in the lineage (unless ``record`` is
        False); after an ``evolved`` one, the registered columns follow the Delta log's."""

    def record(self, table: str, op: str, version: int | None = None) -> None:
        """Lineage of a read or write of ``table`` (at ``version``, else its latest)."""

    def list_tables(self, schema: str | None = None) -> list[str]: ...

    def annotate(self, table: str, properties: dict[str, Any]) -> None: ...

    def drop(self, table: str) -> None: ...

    def create_function(self, sql: str) -> dict[str, Any]:
        """Register a ``CREATE FUNCTION ... LANGUAGE PYTHON`` statement's function."""

    def function(self, name: str) -> dict[str, Any]: ...

    def online_root(self) -> str:
        """Where the workspace keeps its online feature store."""


class Tables:
    """Catalog tables as task code and the CLI use them: ``read``, ``write``, ``history``,
    ``sql``, and the catalog's own questions passed through."""

    def __init__(self, meta: TableMeta) -> None:
        self.meta = meta

    # the catalog's ----------------------------------------------------------------------
    def table_info(self, table: str) -> dict[str, Any] | None:
        return self.meta.table_info(table)

    def location(self, table: str, privilege: str = "SELECT") -> str:
        return self.meta.location(table, privilege)

    def record(self, table: str, op: str) -> None:
        self.meta.record(table, op)

    def list_tables(self, schema: str | None = None) -> list[str]:
        return self.meta.list_tables(schema)

    def annotate(self, table: str, properties: dict[str, Any]) -> None:
        self.meta.annotate(table, properties)

    def drop(self, table: str) -> None:
        self.meta.drop(table)

    def function(self, name: str) -> dict[str, Any]:
        return self.meta.function(name)

    def online_root(self) -> str:
        return self.meta.online_root()

    # the data ---------------------------------------------------------------------------
    def write(self, table: str, data: Any, mode: str = "append",
              keys: list[str] | None = None, location: str | None = None,
              record: bool = True, evolve: bool = False) -> int:
        """Write a pandas DataFrame or Arrow table; returns the new Delta version.

        The first write creates the table: managed, or external at ``location``. With
        ``record=False`` (steady streams such as inference tables) a write is not put in
        the audit log or the lineage; the table's creation always is. With ``evolve`` an
        append may bring new columns (added to the table) and leave some out (null);
        a column whose values cannot become the table's type is still an error."""
        from deltalake import DeltaTable, write_deltalake
        from deltalake.exceptions import SchemaMismatchError

        if mode not in MODES:
            raise KilnError(f"write mode must be one of {', '.join(MODES)}, got {mode!r}")
        name = parse_name(table)
        info = self.meta.table_info(str(name))
        arrow = _to_arrow(data)
        if info is None:
            where = self.meta.new_table(str(name), None if location is None
                                        else os.path.abspath(str(location)))
            if mode == "merge":
                raise NotFound(f"table {name} does not exist: merge needs an existing table")
            try:
                write_deltalake(where, arrow, mode="error")
            except Exception as e:  # noqa: BLE001 - delta-rs: the path already holds a table
                raise KilnError(f"cannot create table {name} at {where}: {e}",
                                detail="To use an existing Delta table, register it with "
                                       "'kiln tables create NAME --location PATH'.") from None
            self.meta.created(str(name), where, arrow.num_rows)
            return 0
        where = self.meta.location(str(name), "MODIFY")
        dt = DeltaTable(where)
        evolving = evolve and mode == "append"
        arrow = (_evolve(name, arrow, dt.schema().to_arrow()) if evolving
                 else _conform(name, arrow, dt.schema().to_arrow()))
        try:
            if evolving:
                write_deltalake(where, arrow, mode="append", schema_mode="merge")
            elif mode == "merge":
                if not keys:
                    raise KilnError("merge needs keys=[...], the columns that identify a row")
                predicate = " AND ".join(f"t.{_ident(k)} = s.{_ident(k)}" for k in keys)
                (dt.merge(arrow, predicate=predicate, source_alias="s", target_alias="t")
                   .when_matched_update_all().when_not_matched_insert_all().execute())
            else:
                write_deltalake(where, arrow, mode=mode)
        except SchemaMismatchError as e:
            raise KilnError(f"schema mismatch writing {name}: {e}") from None
        version = int(DeltaTable(where).version())
        self.meta.written(str(name), mode, version, arrow.num_rows, record, evolving)
        return version

    def read(self, table: str, version: int | None = None, as_arrow: bool = False) -> Any:
        from deltalake import DeltaTable

        name = parse_name(table)
        where = self.meta.location(str(name))
        dt = DeltaTable(where)
        if version is not None:
            try:
                dt.load_as_version(version)
            except Exception:  # noqa: BLE001 - delta-rs raises several kinds here
                raise KilnError(f"table {table} has no version {version} (latest: "
                                f"{DeltaTable(where).version()})") from None
        arrow = delta_io.arrow(dt, where)
        self.meta.record(str(name), "read", int(dt.version()))
        return arrow if as_arrow else arrow.to_pandas()

    def history(self, table: str) -> list[dict[str, Any]]:
        from deltalake import DeltaTable

        return [{"version": h.get("version"), "timestamp": h.get("timestamp"),
                 "operation": h.get("operation"),
                 "operationParameters": h.get("operationParameters", {})}
                for h in DeltaTable(self.meta.location(table)).history()]

    def sql(self, query: str) -> "pa.Table":
        """Run a query with DuckDB; ``catalog.schema.table`` names read the Delta tables.
        ``CREATE FUNCTION ... LANGUAGE PYTHON`` registers a catalog function."""
        import duckdb
        import pyarrow as pa

        from kiln.catalog.functions import is_create_function

        if is_create_function(query):
            made = self.meta.create_function(query)
            return pa.table({"created": [made["full_name"]]})

        con = duckdb.connect()
        rewritten = _rewrite_names(query, self._view(con))
        try:
            result = con.sql(rewritten)
            return result.to_arrow_table() if result is not None else None
        except duckdb.Error as e:
            raise KilnError(f"SQL error: {str(e).splitlines()[0]}") from None

    def _view(self, con: Any):  # type: ignore[no-untyped-def]
        from deltalake import DeltaTable

        def view(name: FullName, as_of: str | None = None) -> str:
            where = self.meta.location(str(name))  # NotFound when there is no such table
            dt = DeltaTable(where)
            alias = f"{name.catalog}__{name.schema}__{name.name}"
            if as_of is not None:  # VERSION AS OF n | TIMESTAMP AS OF 'time'
                try:
                    dt.load_as_version(int(as_of) if as_of.isdigit() else as_of.strip("'"))
                except Exception:  # noqa: BLE001 - delta-rs raises several kinds here
                    raise KilnError(f"table {name} has no version as of {as_of} (latest: "
                                    f"{DeltaTable(where).version()})") from None
                alias += "__v" + str(dt.version())
            con.register(alias, delta_io.dataset(dt, where))
            return alias
        return view


_NAME3 = re.compile(r"(`?[A-Za-z_]\w*`?)\.(`?[A-Za-z_]\w*`?)\.(`?[A-Za-z_]\w*`?)")
_AS_OF = re.compile(r"\s+(?:FOR\s+SYSTEM_(?:VERSION|TIME)\s+|)(VERSION|TIMESTAMP)\s+AS\s+OF\s+"
                    r"(\d+|'[^']*')", re.IGNORECASE)


def _rewrite_names(query: str, view) -> str:  # type: ignore[no-untyped-def]
    """Replace three-part table names outside string literals with registered views."""
    out: list[str] = []
    i = 0
    while i < len(query):
        ch = query[i]
        if ch in ("'", '"'):
            j = query.find(ch, i + 1)
            j = len(query) if j < 0 else j + 1
            out.append(query[i:j])
            i = j
            continue
        m = _NAME3.match(query, i)
        if m and (i == 0 or not (query[i - 1].isalnum() or query[i - 1] in "_.")):
            try:
                name = parse_name(m.group(0))
            except KilnError:
                name = None
            as_of = _AS_OF.match(query, m.end())
            alias = view(name, as_of.group(2) if as_of else None) if name is not None else None
            out.append(alias if alias is not None else m.group(0))
            i = as_of.end() if as_of and alias is not None else m.end()
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _to_arrow(data: Any) -> "pa.Table":
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    try:
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            return pa.Table.from_pandas(data, preserve_index=False)
    except ImportError:
        pass
    if isinstance(data, (list, dict)):
        return pa.Table.from_pylist(data) if isinstance(data, list) else pa.table(data)
    raise KilnError(f"cannot write a {type(data).__name__}: pass a pandas DataFrame, an Arrow "
                    "table, a list of dicts or a dict of columns")


def _conform(name: FullName, data: "pa.Table", table_schema: Any) -> "pa.Table":
    """The data in the table's schema: the same columns, types cast only where no value
    can change (int32 -> int64, ...); anything else is a schema mismatch, written nowhere."""
    import pyarrow as pa

    want = pa.schema(table_schema)
    have = {f.name for f in data.schema}
    missing = [f.name for f in want if f.name not in have]
    extra = [n for n in data.schema.names if n not in want.names]
    problem = None
    if missing or extra:
        problem = ("missing columns " + ", ".join(missing) if missing else "") + \
                  ("; " if missing and extra else "") + \
                  ("columns not in the table: " + ", ".join(extra) if extra else "")
    else:
        wrong = [f"{f.name} is {data.schema.field(f.name).type}, the table has {f.type}"
                 for f in want if not _same_kind(data.schema.field(f.name).type, f.type)]
        if wrong:
            problem = "; ".join(wrong)
        else:
            try:
                return data.select(want.names).cast(want, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
                problem = str(e).splitlines()[0]
    raise KilnError(f"schema mismatch writing {name}: {problem}",
                    detail="table columns: " + ", ".join(f"{f.name} {f.type}" for f in want)
                    + "\ndata columns:  " + ", ".join(f"{f.name} {f.type}" for f in data.schema))


def _evolve(name: FullName, data: "pa.Table", table_schema: Any) -> "pa.Table":
    """The data for an evolving append: the table's columns first (cast where no value can
    change, null where the data lacks them), then the data's new columns."""
    import pyarrow as pa

    want = pa.schema(table_schema)
    columns, fields = [], []
    for f in want:
        if f.name in data.schema.names:
            col = data.column(f.name)
            if not _same_kind(col.type, f.type):
                raise KilnError(f"schema mismatch writing {name}: {f.name} is {col.type}, "
                                f"the table has {f.type}")
            try:
                col = col.cast(f.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
                raise KilnError(f"schema mismatch writing {name}: {f.name}: "
                                f"{str(e).splitlines()[0]}") from None
        else:
            col = pa.nulls(data.num_rows, f.type)
        columns.append(col)
        fields.append(pa.field(f.name, f.type, True))
    for n in data.schema.names:
        if n not in want.names:
            columns.append(data.column(n))
            fields.append(data.schema.field(n).with_nullable(True))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _same_kind(src: Any, dst: Any) -> bool:
    """Types a write may convert between: equal ones, and widths of one kind of number,
    string, binary or timestamp (never text to number or number to text)."""
    import pyarrow.types as t

    if src == dst or t.is_null(src):
        return True
    kinds = (t.is_integer, t.is_floating, lambda x: t.is_string(x) or t.is_large_string(x),
             lambda x: t.is_binary(x) or t.is_large_binary(x), t.is_timestamp, t.is_date,
             t.is_boolean)
    return any(k(src) and k(dst) for k in kinds)


def _ident(col: str) -> str:
    if not re.match(r"^[A-Za-z_]\w*$", col):
        raise KilnError(f"invalid merge key column {col!r}")
    return col
