"""``kiln sql``, ``kiln tables``, and ``kiln catalogs|schemas|volumes``."""

from __future__ import annotations


import click
import orjson

from kiln.cli.render import document_opt, echo, output_opt, print_json, print_rows
from kiln.cli.workspaces import open_workspace, ws_opt


def _catalog(workspace: str | None):  # type: ignore[no-untyped-def]
    from kiln.catalog import Catalog

    return Catalog(open_workspace(workspace))


def _json_value(v: object) -> object:
    from decimal import Decimal

    if isinstance(v, Decimal):  # SQL sums of integers are decimals
        return int(v) if v == v.to_integral_value() else float(v)
    return str(v)


def _show(table, output: str) -> None:  # type: ignore[no-untyped-def]
    if output == "json":
        print_json(table.to_pylist(), sort_keys=False, default=_json_value)
    else:
        echo(_text(table) if table.num_rows else "(no rows)")


def _text(table) -> str:  # type: ignore[no-untyped-def]
    """The rows as a text table; SQL nulls print as NULL (not NaN or None)."""
    import pandas as pd

    frame = table.to_pandas()
    for i, name in enumerate(table.column_names):
        nulls = table.column(i).is_null().to_numpy(zero_copy_only=False)
        if nulls.any():
            # the column's own values (integers stay integers), NULL where there is none
            frame[name] = pd.Series(table.column(i).to_pylist(), dtype=object
                                    ).where(~nulls, "NULL")
    return frame.to_string(index=False)


_out = output_opt


@click.command(name="sql")
@click.argument("query")
@ws_opt
@_out
def sql_cmd(query: str, workspace: str | None, output: str) -> None:
    """Run SQL (DuckDB) over the catalog's tables: SELECT ... FROM catalog.schema.table."""
    result = _catalog(workspace).sql(query)
    if result is not None:
        _show(result, output)


@click.group()
def tables() -> None:
    """Delta tables of the catalog."""


@tables.command(name="list")
@click.argument("schema", required=False)
@ws_opt
@output_opt
def tables_list(schema: str | None, workspace: str | None, output: str) -> None:
    """List tables (of one catalog.schema)."""
    names = _catalog(workspace).list_tables(schema)
    if output == "json":
        print_json({"tables": [{"full_name": n} for n in names]})
        return
    for name in names:
        echo(name)


@tables.command(name="preview")
@click.argument("name")
@click.option("--version", type=int, help="A past version (time travel).")
@click.option("--limit", type=int, default=20, show_default=True)
@ws_opt
@_out
def tables_preview(name: str, version: int | None, limit: int, workspace: str | None,
                   output: str) -> None:
    """Show the first rows of a table."""
    _show(_catalog(workspace).read(name, version, as_arrow=True).slice(0, limit), output)


@tables.command(name="history")
@click.argument("name")
@ws_opt
def tables_history(name: str, workspace: str | None) -> None:
    """The table's versions: what each write did."""
    echo(f"{'VERSION':>7}  {'OPERATION':12} PARAMETERS")
    for h in _catalog(workspace).history(name):
        echo(f"{h['version']:>7}  {h['operation']:12} {orjson.dumps(h['operationParameters']).decode()}")


@tables.command(name="get")
@click.argument("name")
@ws_opt
@document_opt
def tables_get(name: str, workspace: str | None) -> None:
    """The table's registration (location, type, columns), as JSON."""
    from kiln.catalog import parse_name

    info = open_workspace(workspace).get("tables", str(parse_name(name)))
    print_json({"full_name": info.id, **info.settings})


@tables.command(name="create")
@click.argument("name")
@click.option("--location", required=True, help="Directory of an existing Delta table.")
@ws_opt
def tables_create(name: str, location: str, workspace: str | None) -> None:
    """Register an external table: an existing Delta table that stays where it is."""
    _catalog(workspace).create_external(name, location)
    echo(f"Created external table {name.lower()}")


@tables.command(name="delete")
@click.argument("name")
@ws_opt
def tables_delete(name: str, workspace: str | None) -> None:
    """Drop a table (a managed table's data goes too)."""
    _catalog(workspace).drop(name)
    echo(f"Deleted table {name}")


def _object_group(kind: str, noun: str, parts: int):  # type: ignore[no-untyped-def]
    """list/get/create/delete for a kind of catalog container, named with ``parts`` parts;
    the rules (and the privileges they need) are the catalog service's."""
    group = click.Group(name=kind, help=f"Unity Catalog {kind} of a workspace.")

    @group.command(name="list")
    @click.argument("parent", required=False)
    @ws_opt
    @output_opt
    def list_cmd(parent: str | None, workspace: str | None, output: str) -> None:
        cat = _catalog(workspace)
        if kind == "catalogs":  # every catalog in use, also those only named by schemas
            ids = cat.catalog_names()
        elif kind == "schemas":
            ids = [f"{c}.{s}" for c in ([parent.lower()] if parent else cat.catalog_names())
                   for s in cat.schema_names(c)]
        else:
            ids = cat.volumes(parent)
        if output == "json":
            print_json({kind: [{"full_name": i} for i in ids]})
            return
        for ident in ids:
            echo(ident)

    @group.command(name="get")
    @click.argument("name")
    @ws_opt
    @document_opt
    def get_cmd(name: str, workspace: str | None) -> None:
        from kiln.catalog.names import split_name

        ident = ".".join(split_name(name, noun, parts)).lower()
        info = _catalog(workspace).container(kind, ident)
        print_json({"full_name": info.id, **info.settings, "created_by": info.creator,
                    "created_at": info.created_at})

    @group.command(name="create")
    @click.argument("name")
    @click.option("--comment", default=None)
    @ws_opt
    def create_cmd(name: str, comment: str | None, workspace: str | None) -> None:
        from kiln.catalog.names import split_name

        got = split_name(name, noun, parts)
        cat = _catalog(workspace)
        if kind == "catalogs":
            cat.create_catalog(got[0], comment)
        elif kind == "schemas":
            cat.create_schema(got[0], got[1], comment)
        else:
            cat.create_volume(got[0], got[1], got[2], comment)
        echo(f"Created {noun} {'.'.join(got).lower()}")

    @group.command(name="delete")
    @click.argument("name")
    @ws_opt
    def delete_cmd(name: str, workspace: str | None) -> None:
        ident = name.lower()
        _catalog(workspace).delete(kind, ident, cascade=False)
        echo(f"Deleted {noun} {ident}")

    return group


catalogs = _object_group("catalogs", "catalog", 1)
schemas = _object_group("schemas", "schema", 2)
volumes = _object_group("volumes", "volume", 3)


@click.group()
def functions() -> None:
    """Python functions of the catalog (made with CREATE FUNCTION ... LANGUAGE PYTHON in
    'kiln sql' or spark.sql)."""


def _functions(workspace: str | None):  # type: ignore[no-untyped-def]
    from kiln.catalog.functions import Functions

    return Functions(open_workspace(workspace))


@functions.command(name="list")
@click.argument("schema", required=False)
@ws_opt
@output_opt
def functions_list(schema: str | None, workspace: str | None, output: str) -> None:
    """The functions (of a schema) you may execute."""
    rows = [{"full_name": f["full_name"], "data_type": f["data_type"],
             "input_params": ", ".join(f"{p['name']} {p['type_name']}"
                                       for p in f["input_params"])}
            for f in _functions(workspace).list(schema)]
    print_rows(output, "functions", rows, empty="No functions",
               header=f"{'NAME':40} {'RETURNS':10} PARAMETERS",
               line=lambda r: f"{r['full_name']:40} {r['data_type']:10} {r['input_params']}")


@functions.command(name="get")
@click.argument("name")
@ws_opt
@document_opt
def functions_get(name: str, workspace: str | None) -> None:
    """A function: its parameters, return type and body."""
    print_json(_functions(workspace).get(name))


@functions.command(name="delete")
@click.argument("name")
@ws_opt
def functions_delete(name: str, workspace: str | None) -> None:
    """Delete a function."""
    _functions(workspace).delete(name)
    echo(f"Deleted function {name.lower()}")
