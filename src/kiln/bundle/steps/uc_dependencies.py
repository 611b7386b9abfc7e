"""Unity Catalog names that a bundle's own catalogs and schemas define become references,
as the Databricks CLI makes them (its ``CaptureUCDependencies``).

A volume, registered model, pipeline, quality monitor or serving endpoint's inference
table that names the catalog ``main`` and schema ``ml``, in a bundle that also defines
that schema, names it as ``${resources.schemas.<key>.name}`` (and the catalog as
``${resources.catalogs.<key>.name}``). Two things follow: deploy creates the schema
first, and a name the target changes (the ``dev_<user>_`` prefix of development mode)
reaches everything inside it. Runs before modes and presets rename anything.
"""

from __future__ import annotations

from kiln.diag import Diagnostic
from kiln.bundle.dyn.value import Value
from kiln.bundle.edit import edit_resources, get_str, resources, with_field
from kiln.bundle.state import Loading


def capture_uc_dependencies(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    config = b.config
    catalogs = {get_str(c, "name"): k for k, c in resources(config, "catalogs")}
    schemas = {(get_str(s, "catalog_name"), get_str(s, "name")): k
               for k, s in resources(config, "schemas")}
    catalogs.pop(None, None)

    def catalog(name: str | None) -> str | None:
        k = catalogs.get(name) if name else None
        return f"${{resources.catalogs.{k}.name}}" if k else name

    def schema(cat: str | None, name: str | None) -> str | None:
        k = schemas.get((cat, name)) if cat and name else None
        return f"${{resources.schemas.{k}.name}}" if k else name

    def pair(obj: Value, cat_key: str, schema_keys: tuple[str, ...]) -> Value:
        cat = get_str(obj, cat_key)
        for sk in schema_keys:
            obj = _set(obj, sk, schema(cat, get_str(obj, sk)))
        return _set(obj, cat_key, catalog(cat))

    for rtype in ("volumes", "registered_models", "secrets"):
        config = edit_resources(config, rtype,
                                lambda _k, r: pair(r, "catalog_name", ("schema_name",)))
    config = edit_resources(config, "pipelines",
                            lambda _k, r: pair(r, "catalog", ("schema", "target")))

    def monitor(_k: str, r: Value) -> Value:
        out = get_str(r, "output_schema_name")
        if not out or "." not in out:
            return r
        cat, sch = out.split(".", 1)
        return _set(r, "output_schema_name", f"{catalog(cat)}.{schema(cat, sch)}")

    config = edit_resources(config, "quality_monitors", monitor)

    def endpoint(_k: str, r: Value) -> Value:
        for outer, inner in (("ai_gateway", "inference_table_config"),
                             ("config", "auto_capture_config")):
            o = r.get(outer)
            i = o.get(inner) if o is not None and o.is_map else None
            if i is not None and i.is_map:
                o = with_field(o, inner, pair(i, "catalog_name", ("schema_name",)))  # type: ignore[arg-type]
                r = with_field(r, outer, o)
        return r

    config = edit_resources(config, "model_serving_endpoints", endpoint)
    config = edit_resources(config, "schemas",
                            lambda _k, r: _set(r, "catalog_name", catalog(get_str(r, "catalog_name"))))
    return b.with_config(config), []


def _set(obj: Value, key: str, text: str | None) -> Value:
    cur = obj.get(key)
    if text is None or cur is None or cur.v == text:
        return obj
    return with_field(obj, key, Value(text, cur.loc, cur.kloc))
