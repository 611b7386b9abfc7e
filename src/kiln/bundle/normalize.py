"""Normalization: make a config tree agree with the schema before anything merges it.

As the Databricks CLI does: unknown fields are warnings and are dropped; a value of the
wrong kind is a warning (``expected map, found string``) and is dropped; scalars convert
where the field asks (``"4"`` → 4 for an int, ``4`` → ``"4"`` for a string, ``"true"`` →
true for a bool) and a string that cannot convert is an error. A string that is a whole
``${...}`` reference is kept as it is wherever it stands; resolution happens later.
"""

from __future__ import annotations

from collections.abc import Callable

from kiln.diag import Diagnostic, Path, Severity
from kiln.bundle.dyn.value import Value, anchors_only, kind_name
from kiln.bundle.refs import is_pure_ref
from kiln.bundle.typetree import TAny, TMap, TNode, TScalar, TSeq, TStruct

_TRUE_STRINGS = frozenset({"true", "True", "TRUE", "y", "Y", "yes", "Yes", "YES",
                           "on", "On", "ON"})
_FALSE_STRINGS = frozenset({"false", "False", "FALSE", "n", "N", "no", "No", "NO",
                            "off", "Off", "OFF"})


def normalize(value: Value, node: TNode, path: Path = ()) -> tuple[Value | None, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    out = _norm(value, node, list(path), diags)
    return out, diags


def _mismatch(expected: str, value: Value, path: Path) -> Diagnostic:
    return Diagnostic(Severity.WARNING, f"expected {expected}, found {kind_name(value)}",
                      locations=(value.loc,), paths=(path,))


def _norm(value: Value, node: TNode, keys: list[str | int], diags: list[Diagnostic]
          ) -> Value | None:
    """``keys`` is the path of ``value``, kept as a stack (tuples only for diagnostics).

    Unchanged subtrees are returned as they are, not copied.
    """
    v = value.v
    if v is None or type(node) is TAny:
        return value
    t = type(node)
    if t is TStruct:
        if type(v) is not dict:
            if is_pure_ref(v):
                return value
            diags.append(_mismatch("map", value, tuple(keys)))
            return None
        fields = node.fields  # type: ignore[union-attr]
        out: dict[str, Value] | None = None
        for k, child in v.items():
            sub = fields.get(k)
            if sub is None:
                if k == "valueFrom" and "value_from" in fields:  # the CLI's one hint
                    diags.append(Diagnostic(
                        Severity.WARNING, "Use 'value_from' instead of 'valueFrom'",
                        "The field 'valueFrom' should be 'value_from' (snake_case). The "
                        "'valueFrom' field will be ignored.", locations=(child.key_loc(),),
                        paths=(tuple(keys),)))
                elif not anchors_only(child):  # reusable YAML anchors are not settings
                    diags.append(Diagnostic(Severity.WARNING, f"unknown field: {k}",
                                            locations=(child.key_loc(),), paths=(tuple(keys),)))
                nc = None
            elif type(sub) is TScalar and sub.kind == "string" and type(child.v) is str:  # type: ignore[union-attr]
                # the common case, a string where a string belongs: nothing to do
                if out is not None:
                    out[k] = child
                continue
            else:
                keys.append(k)
                nc = _norm(child, sub, keys, diags)
                keys.pop()
            if nc is not child:
                if out is None:
                    out = {}
                    for k2, c2 in v.items():
                        if k2 == k:
                            break
                        out[k2] = c2
                if nc is not None:
                    out[k] = nc
            elif out is not None:
                out[k] = child
        return value if out is None else Value(out, value.loc, value.kloc)
    if t is TMap or t is TSeq:
        is_map = t is TMap
        if type(v) is not (dict if is_map else list):
            if is_pure_ref(v):
                return value
            diags.append(_mismatch("map" if is_map else "sequence", value, tuple(keys)))
            return None
        item = node.item  # type: ignore[union-attr]
        if type(item) is TAny:
            return value
        pairs = v.items() if is_map else enumerate(v)
        changed = False
        new: list[tuple[str | int, Value]] = []
        for k, child in pairs:
            keys.append(k)
            nc = _norm(child, item, keys, diags)
            keys.pop()
            if nc is not child:
                changed = True
            if nc is not None:
                new.append((k, nc))
        if not changed:
            return value
        if is_map:
            return Value(dict(new), value.loc, value.kloc)  # type: ignore[arg-type]
        return Value([c for _, c in new], value.loc, value.kloc)
    return _scalar(value, node.kind, tuple(keys), diags)  # type: ignore[union-attr]


def _scalar(value: Value, kind: str, path: Path, diags: list[Diagnostic]) -> Value | None:
    v = value.v
    tv = type(v)
    if kind == "string":
        if tv is str:
            return value
        if tv is bool:
            return value.with_v("true" if v else "false")
        if tv is int or tv is float:
            return value.with_v(_num_str(v))
        diags.append(_mismatch("string", value, path))
        return None
    if kind == "int_or_string":  # an id that may still be a ${resources...} reference
        if tv is str and v.isdigit():
            return value.with_v(int(v))
        if tv is str or tv is int:
            return value
        if tv is float and v.is_integer():
            return value.with_v(int(v))
        diags.append(_mismatch("int", value, path))
        return None
    if kind == "int":
        if tv is int:
            return value
        if tv is float:
            if v.is_integer():
                return value.with_v(int(v))
            diags.append(Diagnostic(Severity.ERROR, f"cannot accurately represent {v} as integer",
                                    locations=(value.loc,), paths=(path,)))
            return None
        if tv is str:
            return _parse(value, _parse_int, "an integer", path, diags)
        diags.append(_mismatch("int", value, path))
        return None
    if kind == "float":
        if tv is float:
            return value
        if tv is int:
            return value.with_v(float(v))
        if tv is str:
            return _parse(value, float, "a floating point number", path, diags)
        diags.append(_mismatch("float", value, path))
        return None
    if kind == "bool":
        if tv is bool:
            return value
        if tv is str:
            if v in _TRUE_STRINGS:
                return value.with_v(True)
            if v in _FALSE_STRINGS:
                return value.with_v(False)
            if is_pure_ref(v):
                return value
            diags.append(Diagnostic(Severity.ERROR, f'cannot parse "{v}" as a boolean',
                                    locations=(value.loc,), paths=(path,)))
            return None
        diags.append(_mismatch("bool", value, path))
        return None
    return value


def _parse_int(text: str) -> int:
    t = text.strip()
    return int(t, 0) if t[:2].lower() in ("0x", "0o") else int(t)


def _parse(value: Value, parse: Callable[[str], object], what: str, path: Path,
           diags: list[Diagnostic]) -> Value | None:
    """A string where a number belongs: converted, kept (a reference) or an error."""
    if is_pure_ref(value.v):
        return value
    try:
        return value.with_v(parse(value.v))
    except ValueError:
        diags.append(Diagnostic(Severity.ERROR, f'cannot parse "{value.v}" as {what}',
                                locations=(value.loc,), paths=(path,)))
        return None


def _num_str(v: int | float) -> str:
    if type(v) is float and v.is_integer() and abs(v) < 1e16:
        return str(int(v))
    return str(v)
