"""The JSON schema of ``databricks.yml`` as kiln understands it, for editors.

Generated from the pydantic models; every non-string value also accepts a ``${...}``
reference string, since any field may hold one until resolution.
"""

from __future__ import annotations

from typing import Any

from kiln.bundle.schema import BundleConfig

_REF_PATTERN = r"^\$\{[A-Za-z_][\w-]*(\[\d+\])*(\.[A-Za-z_][\w-]*(\[\d+\])*)*\}$"
_REF = {"type": "string", "pattern": _REF_PATTERN}


def bundle_json_schema() -> dict[str, Any]:
    schema = BundleConfig.model_json_schema(by_alias=True)
    defs = schema.pop("$defs", {})
    schema = _inner(schema)
    # Included files use the same schema and need not repeat the `bundle` section.
    schema.pop("required", None)
    schema["$defs"] = {name: _inner(body) for name, body in defs.items()}
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema["title"] = "kiln bundle configuration (databricks.yml)"
    return schema


_NON_STRING = ("integer", "number", "boolean", "object", "array")


def _takes_ref(s: dict[str, Any]) -> bool:
    if "$ref" in s or s.get("type") in _NON_STRING:
        return True
    return any(_takes_ref(x) for x in s.get("anyOf", []) if isinstance(x, dict))


def _field(s: Any) -> Any:
    """A schema in a value position: it may also be a ``${...}`` reference."""
    if not isinstance(s, dict):
        return s
    s = _inner(s)
    if not _takes_ref(s):
        return s
    if "anyOf" in s:
        return {**s, "anyOf": [*s["anyOf"], _REF]}
    ann = {k: s[k] for k in ("title", "description", "default") if k in s}
    body = {k: v for k, v in s.items() if k not in ann}
    return {**ann, "anyOf": [body, _REF]}


def _inner(s: dict[str, Any]) -> dict[str, Any]:
    s = dict(s)
    if isinstance(s.get("properties"), dict):
        s["properties"] = {k: _field(v) for k, v in s["properties"].items()}
    if isinstance(s.get("additionalProperties"), dict):
        s["additionalProperties"] = _field(s["additionalProperties"])
    if isinstance(s.get("items"), dict):
        s["items"] = _field(s["items"])
    if isinstance(s.get("anyOf"), list):
        s["anyOf"] = [_inner(x) if isinstance(x, dict) else x for x in s["anyOf"]]
    return s
