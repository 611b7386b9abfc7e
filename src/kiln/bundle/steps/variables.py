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
from kiln.bundle.dyn.value import Value, from_plain, set_path, to_plain
from kiln.bundle.edit import get_str
from kiln.bundle.state import Loading
from kiln.errors import KilnError

ENV_PREFIX = "BUNDLE_VAR_"


def set_variables(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    """Like the Databricks CLI, the first variable that cannot get a value stops here."""
    config = b.config
    section = config.get("variables")
    defined: dict[str, Value] = section.v if section is not None and section.is_map else {}
    target = _target(config)
    values: dict[str, Value] = {name: decl.v["value"] for name, decl in defined.items()
                                if decl.is_map and not _nil(decl.v.get("value"))}

    for name, text in b.ctx.cli_vars:
        decl = defined.get(name)
        if decl is None:
            return b, [_error(f"variable {name} has not been defined",
                              detail="It was given with --var; declare it under "
                                     "'variables' in databricks.yml.")]
        if _is_complex(decl):
            return b, [_error("setting variables of complex type via --var flag is not "
                              f"supported: {name}", decl)]
        if name in values:
            return b, [_error(f"failed to assign {text} to {name}: variable has already been "
                              f"assigned value: {_text(values[name])}", decl)]
        values[name] = Value(text, Location("--var", 1, 1))

    overrides, diags = _load_overrides(b.root, target)
    if diags:
        return b, diags
    for name, decl in defined.items():
        if name not in values:
            value, err = _choose_value(b, name, decl, overrides)
            if err is not None:
                return b, [_error(err, decl)]
            assert value is not None
            values[name] = value
        config = set_path(config, ("variables", name, "value"), values[name])
    return b.with_config(config), []


def _choose_value(b: Loading, name: str, decl: Value, overrides: dict[str, Value]
                  ) -> tuple[Value | None, str | None]:
    d = decl.v if decl.is_map else {}
    complex_type = _is_complex(decl)
    env = b.ctx.env.get(ENV_PREFIX + name)
    if env is not None:
        if complex_type:
            return None, (f"setting via environment variables ({ENV_PREFIX}{name}) is not "
                          f"supported for complex variable {name}")
        return Value(env, Location(ENV_PREFIX + name, 1, 1)), None
    lookup = d.get("lookup")
    if lookup is not None and lookup.is_map and lookup.v:
        return _resolve_lookup(b, name, lookup)
    file_value = overrides.get(name)
    if not _nil(file_value):
        assert file_value is not None
        complex_value = file_value.is_map or file_value.is_seq
        if complex_type and not complex_value:
            return None, (f"variable {name} is of type complex, but the value in the variable "
                          "file is not a complex type")
        if complex_value and not complex_type:
            return None, (f"variable {name} is not of type complex, but the value in the "
                          "variable file is a complex type")
        return file_value, None
    default = d.get("default")
    if not _nil(default):
        return default, None
    return None, (f"no value assigned to required variable {name}. Variables are usually "
                  f'assigned in databricks.yml, and they can be overridden using "--var", the '
                  f"{ENV_PREFIX}{name} environment variable, or "
                  ".databricks/bundle/<target>/variable-overrides.json")


def _error(summary: str, decl: Value | None = None, detail: str = "") -> Diagnostic:
    return Diagnostic(Severity.ERROR, summary, detail,
                      locations=(decl.key_loc(),) if decl is not None else ())


def _nil(v: Value | None) -> bool:
    return v is None or v.is_nil


def _is_complex(decl: Value) -> bool:
    t = decl.get("type") if decl.is_map else None
    return t is not None and t.v == "complex"


def _text(v: Value) -> str:
    return str(v.v) if not (v.is_map or v.is_seq) else str(to_plain(v))


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
    path = os.path.join(root, ".databricks", "bundle", target, "variable-overrides.json")
    if not os.path.exists(path):
        return {}, []
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        where = f"{path}:{getattr(e, 'lineno', 1)}:{getattr(e, 'colno', 1)}"
        msg = getattr(e, "msg", str(e))
        go = _go_json_error(getattr(e, "doc", "") or "")
        if go is not None:  # the CLI's (Go's) words for the common mistakes
            where, msg = f"{path}:{go[0]}:{go[1]}", go[2]
        return {}, [_error(f"failed to parse variables file {path}: error decoding JSON at "
                           f"{where}: {msg}")]
    if not isinstance(data, dict):
        return {}, [_error(f"failed to parse variables file {path}: invalid format",
                           detail="Variables file must be a JSON object with the following "
                                  'format:\n{"var1": "value1", "var2": "value2"}')]
    loc = Location(path, 1, 1)
    return {str(k): from_plain(v, loc) for k, v in data.items()}, []


def _go_json_error(text: str) -> tuple[int, int, str] | None:
    """(line, col, message) as Go's JSON decoder words an invalid first value."""
    stripped = text.lstrip(" \t\r\n")
    if not stripped:
        return None
    start = len(text) - len(stripped)
    line = text.count("\n", 0, start) + 1
    col = start - (text.rfind("\n", 0, start) + 1) + 1
    c = stripped[0]
    literal = {"t": "true", "f": "false", "n": "null"}.get(c)
    if literal is not None:
        for got, want in zip(stripped[1:], literal[1:]):
            if got != want:
                return line, col, (f"invalid character {got!r} in literal {literal} "
                                   f"(expecting {want!r})")
        return None
    if c not in '{["-0123456789':
        return line, col, f"invalid character {c!r} looking for beginning of value"
    return None


__all__ = ["ENV_PREFIX", "set_variables"]
