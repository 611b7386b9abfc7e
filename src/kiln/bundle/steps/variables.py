"""Give every variable its value, by precedence.

``--var`` > ``BUNDLE_VAR_<name>`` > ``lookup`` > ``.databricks/bundle/<target>/
variable-overrides.json`` > target default > root default (the target's default already
replaced the root's in select_target) > the error ``no value assigned to required variable``.
Complex variables (``type: complex``) take maps or sequences and cannot come from the
command line or the environment.
"""

from __future__ import annotations

import json
import os

from kiln.diag import Diagnostic, Location, Severity
from kiln.bundle.dyn.value import Value, from_plain, set_path
from kiln.bundle.edit import get_str
from kiln.bundle.state import Loading
from kiln.errors import KilnError

ENV_PREFIX = "BUNDLE_VAR_"


def set_variables(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    config = b.config
    section = config.get("variables")
    defined: dict[str, Value] = section.v if section is not None and section.is_map else {}
    target = _target(config)

    for name in b.ctx.cli_vars:
        if name not in defined:
            diags.append(Diagnostic(Severity.ERROR, f"variable {name} has not been defined",
                                    detail="It was given with --var; declare it under "
                                           "'variables' in databricks.yml."))
    overrides, more = _load_overrides(b.root, target)
    diags.extend(more)

    for name, decl in defined.items():
        path = ("variables", name)
        d = decl.v if decl.is_map else {}
        is_complex = d.get("type") is not None and d["type"].v == "complex"
        value, err = _choose_value(b, name, d, is_complex, overrides, target)
        if err is not None:
            diags.append(Diagnostic(Severity.ERROR, err, locations=(decl.key_loc(),),
                                    paths=(path,)))
            continue
        assert value is not None
        if is_complex and not (value.is_map or value.is_seq) and not value.is_nil:
            diags.append(Diagnostic(Severity.ERROR,
                                    f"variable {name} is of type complex, but the value in the "
                                    "variable is not a complex type",
                                    locations=(value.loc,), paths=(path,)))
            continue
        if not is_complex and (value.is_map or value.is_seq):
            diags.append(Diagnostic(Severity.ERROR,
                                    f"variable {name} is not of type complex, but the value in "
                                    "the variable is a complex type",
                                    detail="Add 'type: complex' to the variable's declaration "
                                           "to give it a map or a list.",
                                    locations=(value.loc,), paths=(path,)))
            continue
        config = set_path(config, path + ("value",), value)
    return b.with_config(config), diags


def _choose_value(b: Loading, name: str, d: dict[str, Value], is_complex: bool,
                  overrides: dict[str, Value], target: str) -> tuple[Value | None, str | None]:
    cli = b.ctx.cli_vars.get(name)
    env = b.ctx.env.get(ENV_PREFIX + name)
    if is_complex and (cli is not None or env is not None):
        how = "the --var flag" if cli is not None else f"the {ENV_PREFIX}{name} environment variable"
        return None, f"setting variables of complex type via {how} is not supported: {name}"
    if cli is not None:
        return Value(cli, Location("--var", 1, 1)), None
    if env is not None:
        return Value(env, Location(ENV_PREFIX + name, 1, 1)), None
    lookup = d.get("lookup")
    if lookup is not None and lookup.is_map and lookup.v:
        return _resolve_lookup(b, name, lookup)
    if name in overrides:
        return overrides[name], None
    default = d.get("default")
    if default is not None:
        return default, None
    return None, (f"no value assigned to required variable {name}. Variables are usually "
                  f'assigned in databricks.yml, and they can be overridden using "--var", the '
                  f"{ENV_PREFIX}{name} environment variable, or "
                  f".databricks/bundle/{target}/variable-overrides.json")


def _resolve_lookup(b: Loading, name: str, lookup: Value) -> tuple[Value | None, str | None]:
    kinds = [(k, v) for k, v in lookup.v.items() if not v.is_nil]
    if len(kinds) != 1:
        return None, f"variable {name}: a lookup must name exactly one object kind"
    kind, obj = kinds[0]
    if b.ctx.lookups is None:
        return None, (f"variable {name}: cannot look up {kind} {obj.v!r}: the target's "
                      "workspace is not available")
    try:
        lookups = b.ctx.lookups
        if not hasattr(lookups, "resolve"):  # a factory: open the target's workspace
            lookups = lookups(_target(b.config), get_str(b.config, "workspace", "host"),
                              get_str(b.config, "workspace", "profile"))
        return Value(lookups.resolve(kind, str(obj.v)), obj.loc), None
    except KilnError as e:
        return None, f"variable {name}: failed to resolve {kind} lookup {obj.v!r}: {e.summary}"


def _target(config: Value) -> str:
    bundle = config.get("bundle")
    t = bundle.get("target") if bundle is not None else None
    return str(t.v) if t is not None else "default"


def _load_overrides(root: str, target: str) -> tuple[dict[str, Value], list[Diagnostic]]:
    rel = os.path.join(".databricks", "bundle", target, "variable-overrides.json")
    path = os.path.join(root, rel)
    if not os.path.exists(path):
        return {}, []
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        line = getattr(e, "lineno", 1)
        col = getattr(e, "colno", 1)
        return {}, [Diagnostic(Severity.ERROR, f"failed to parse variable overrides: {e}",
                               locations=(Location(rel, line, col),))]
    if not isinstance(data, dict):
        return {}, [Diagnostic(Severity.ERROR, "variable overrides must be a JSON object",
                               locations=(Location(rel, 1, 1),))]
    loc = Location(rel, 1, 1)
    return {str(k): from_plain(v, loc) for k, v in data.items()}, []


__all__ = ["ENV_PREFIX", "set_variables"]
