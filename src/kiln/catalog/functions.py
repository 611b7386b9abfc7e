"""Python functions in the catalog, as Unity Catalog keeps them::

    CREATE [OR REPLACE] FUNCTION main.fs.ratio(a DOUBLE, b DOUBLE)
    RETURNS DOUBLE LANGUAGE PYTHON
    COMMENT 'a over b'
    AS $$
    return a / b if b else None
    $$

The body is the body of a Python function of the parameters. Creating one needs
CREATE_FUNCTION on its schema (and USE_CATALOG, USE_SCHEMA); calling one needs EXECUTE on
it. ``FeatureFunction`` computes on-demand features with them.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any, Callable

from kiln.catalog.grants import Grants
from kiln.catalog.names import FullName, split_name
from kiln.errors import AlreadyExists, KilnError, NotFound
from kiln.workspace import Workspace

KIND = "functions"
TYPES = {"INT": "int", "INTEGER": "int", "BIGINT": "int", "LONG": "int", "SMALLINT": "int",
         "DOUBLE": "float", "FLOAT": "float", "DECIMAL": "float", "STRING": "str",
         "BOOLEAN": "bool", "TIMESTAMP": "timestamp", "DATE": "date"}
_CREATE = re.compile(
    r"^\s*CREATE\s+(?P<replace>OR\s+REPLACE\s+)?FUNCTION\s+(?P<name>[\w`.]+)\s*"
    r"\((?P<params>[^)]*)\)\s*RETURNS\s+(?P<returns>\w+)\s+LANGUAGE\s+PYTHON\s*"
    r"(?:COMMENT\s+'(?P<comment>(?:[^']|'')*)'\s*)?AS\s*\$\$(?P<body>.*)\$\$\s*;?\s*$",
    re.IGNORECASE | re.DOTALL)


def is_create_function(sql: str) -> bool:
    return bool(re.match(r"^\s*CREATE\s+(OR\s+REPLACE\s+)?FUNCTION\b", sql, re.IGNORECASE))


def parse(sql: str) -> dict[str, Any]:
    """A ``CREATE FUNCTION ... LANGUAGE PYTHON`` statement as the function's settings."""
    m = _CREATE.match(sql)
    if m is None:
        raise KilnError("kiln creates Python functions only: CREATE [OR REPLACE] FUNCTION "
                        "cat.sch.name(arg TYPE, ...) RETURNS TYPE LANGUAGE PYTHON AS $$ "
                        "body $$")
    name = FullName(*split_name(m["name"], "function", 3))
    params = []
    for part in [p.strip() for p in m["params"].split(",") if p.strip()]:
        bits = part.split()
        if len(bits) != 2 or bits[1].upper() not in TYPES or not bits[0].isidentifier():
            raise KilnError(f"function {name}: parameter {part!r} must be 'name TYPE' with a "
                            f"type of {', '.join(sorted(TYPES))}")
        params.append({"name": bits[0], "type_name": bits[1].upper()})
    if m["returns"].upper() not in TYPES:
        raise KilnError(f"function {name}: RETURNS {m['returns']} is not one of "
                        f"{', '.join(sorted(TYPES))}")
    body = textwrap.dedent(m["body"].strip("\n"))
    settings = {"name": name.name, "catalog_name": name.catalog, "schema_name": name.schema,
                "full_name": str(name), "input_params": params,
                "data_type": m["returns"].upper(), "routine_body": "EXTERNAL",
                "external_language": "PYTHON", "routine_definition": body,
                "comment": (m["comment"] or "").replace("''", "'") or None,
                "replace": bool(m["replace"])}
    compile_body(settings)  # a body that does not compile is refused now, not at use
    return settings


def compile_body(settings: dict[str, Any]) -> Callable[..., Any]:
    """The function as a Python callable of its parameters."""
    args = ", ".join(p["name"] for p in settings["input_params"])
    source = f"def __udf({args}):\n" + textwrap.indent(settings["routine_definition"], "    ")
    namespace: dict[str, Any] = {}
    try:
        exec(compile(source, f"<function {settings['full_name']}>", "exec"), namespace)
    except SyntaxError as e:
        raise KilnError(f"function {settings['full_name']}: its body is not Python: "
                        f"{e.msg} (line {e.lineno})") from None
    return namespace["__udf"]


class Functions:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.grants = Grants(ws)

    def create(self, sql: str) -> dict[str, Any]:
        """Run a ``CREATE FUNCTION`` statement; the function's settings."""
        settings = parse(sql)
        full = settings["full_name"]
        schema = f"{settings['catalog_name']}.{settings['schema_name']}"
        if not any(o.id == schema for o in self.ws.list("schemas")):
            raise NotFound(f"Schema '{schema}' does not exist.")
        self.grants.require_use(full)
        self.grants.require("schema", schema, "CREATE_FUNCTION")
        replace = settings.pop("replace")
        try:
            info = self.ws.create(KIND, settings["name"], settings)
        except AlreadyExists:
            if not replace:
                raise AlreadyExists(f"function {full} already exists: CREATE OR REPLACE "
                                    "FUNCTION replaces it") from None
            old = self.ws.get(KIND, full)
            self.grants.require_manage("function", full)
            info = self.ws.update(KIND, full, old.name, settings)
        self.ws.audit("functions.create", full)
        return {**info.settings, "owner": info.creator}

    def get(self, name: str) -> dict[str, Any]:
        full = ".".join(split_name(name, "function", 3))
        try:
            info = self.ws.get(KIND, full)
        except NotFound:
            raise NotFound(f"Function '{full}' does not exist.") from None
        self.grants.require_on("function", full, "EXECUTE")
        return {**info.settings, "owner": info.creator}

    def list(self, schema: str | None = None) -> list[dict[str, Any]]:
        prefix = ".".join(split_name(schema, "schema", 2)) + "." if schema else ""
        return [{**o.settings, "owner": o.creator} for o in self.ws.list(KIND)
                if o.id.startswith(prefix) and self.grants.may("function", o.id, "EXECUTE")]

    def delete(self, name: str) -> None:
        full = ".".join(split_name(name, "function", 3))
        self.get(full)
        self.grants.require_manage("function", full)
        self.ws.delete(KIND, full)
        self.ws.audit("functions.delete", full)

    def callable(self, name: str) -> Callable[..., Any]:
        """The function, to call (EXECUTE on it)."""
        return compile_body(self.get(name))
