"""A table's columns in Databricks' words.

Unity Catalog describes a column three ways: ``type_text`` (Spark SQL's DDL: ``bigint``,
``array<double>``, ``decimal(10,2)``), ``type_name`` (an enum: ``LONG``, ``ARRAY``,
``DECIMAL``) and ``type_json`` (the column as a field of Spark's JSON schema). A Delta
table's log holds exactly that JSON schema, so kiln takes the columns from there; this
module turns one field of it into the three.
"""

from __future__ import annotations

import json
from typing import Any

# Spark's JSON type names -> (type_text, type_name)
_PRIMITIVE = {
    "byte": ("tinyint", "BYTE"), "short": ("smallint", "SHORT"), "integer": ("int", "INT"),
    "long": ("bigint", "LONG"), "float": ("float", "FLOAT"), "double": ("double", "DOUBLE"),
    "boolean": ("boolean", "BOOLEAN"), "string": ("string", "STRING"),
    "binary": ("binary", "BINARY"), "date": ("date", "DATE"),
    "timestamp": ("timestamp", "TIMESTAMP"), "timestamp_ntz": ("timestamp_ntz", "TIMESTAMP_NTZ"),
    "variant": ("variant", "VARIANT"),
}


# Arrow type names, as kiln recorded a table's columns -> Spark SQL's
_ARROW = {"int8": "tinyint", "int16": "smallint", "int32": "int", "int64": "bigint",
          "uint8": "smallint", "uint16": "int", "uint32": "bigint", "uint64": "bigint",
          "float": "float", "double": "double", "halffloat": "float", "bool": "boolean",
          "string": "string", "large_string": "string", "string_view": "string",
          "binary": "binary", "large_binary": "binary", "date32[day]": "date",
          "date32": "date"}
_JSON_OF_TEXT = {text: name for name, (text, _) in _PRIMITIVE.items()}


def sql_type(recorded: str) -> str | None:
    """Spark SQL's name of a recorded column type (an Arrow name, or already Spark's, as a
    Spark engine registers its tables), or None when it has none."""
    if recorded in _ARROW:
        return _ARROW[recorded]
    if recorded.startswith("timestamp"):
        return "timestamp"
    if recorded.startswith("decimal"):
        return recorded.replace("decimal128", "decimal").replace("decimal256", "decimal")
    if recorded in _JSON_OF_TEXT:
        return recorded
    return None


def recorded_field(column: dict[str, Any]) -> dict[str, Any] | None:
    """A JSON schema field for a recorded column whose type has a plain Spark name."""
    text = sql_type(str(column.get("type", "")))
    if text is None:
        return None
    json_type = text if text.startswith("decimal") else _JSON_OF_TEXT.get(text)
    if json_type is None:
        return None
    return {"name": column["name"], "type": json_type, "nullable": True, "metadata": {}}


def type_text(json_type: Any) -> str:
    """Spark SQL's name of a JSON schema type."""
    if isinstance(json_type, str):
        if json_type.startswith("decimal"):
            return json_type.replace(" ", "")
        return _PRIMITIVE.get(json_type, (json_type, ""))[0]
    kind = json_type.get("type")
    if kind == "array":
        return f"array<{type_text(json_type['elementType'])}>"
    if kind == "map":
        return f"map<{type_text(json_type['keyType'])},{type_text(json_type['valueType'])}>"
    if kind == "struct":
        return "struct<" + ",".join(f"{f['name']}:{type_text(f['type'])}"
                                    for f in json_type.get("fields") or []) + ">"
    return str(kind)


def type_name(json_type: Any) -> str:
    """Unity Catalog's ``ColumnTypeName`` of a JSON schema type."""
    if isinstance(json_type, str):
        if json_type.startswith("decimal"):
            return "DECIMAL"
        return _PRIMITIVE.get(json_type, ("", json_type.upper()))[1]
    return str(json_type.get("type", "")).upper()


def column_doc(field: dict[str, Any], position: int) -> dict[str, Any]:
    """Unity Catalog's ``ColumnInfo`` of one field of a Delta table's schema."""
    t = field["type"]
    doc: dict[str, Any] = {"name": field["name"], "type_text": type_text(t),
                           "type_name": type_name(t), "type_json": json.dumps(field),
                           "position": position, "nullable": bool(field.get("nullable", True))}
    if isinstance(t, str) and t.startswith("decimal("):
        precision, scale = t[len("decimal("):-1].split(",")
        doc["type_precision"], doc["type_scale"] = int(precision), int(scale)
    return doc


def delta_fields(location: str) -> list[dict[str, Any]] | None:
    """The fields of the Delta table's schema at ``location`` (None: no table there)."""
    from deltalake import DeltaTable

    try:
        return list(json.loads(DeltaTable(location).schema().to_json())["fields"])
    except Exception:  # noqa: BLE001 - delta-rs raises several kinds for a missing table
        return None
