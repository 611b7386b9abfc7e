"""The last word of the schema on the resolved tree: required fields and allowed values.

Both are warnings, worded as the Databricks CLI words them: the CLI validates a bundle
with a required field missing or an unknown enum value (the API may accept it, a target
may not deploy it). Deploy still refuses what kiln's typed models cannot hold
(``kiln.bundle.steps.typed``).

Normalization already made kinds agree file by file; only the merged, resolved tree can
say whether a required field is set (a target may supply it) and whether an enum field
holds one of its values (a variable may supply it). ``${...}`` references still standing
(``${resources...}``) are accepted wherever they stand.
"""

from __future__ import annotations

from kiln.diag import Diagnostic, Severity
from kiln.bundle.dyn.value import Value
from kiln.bundle.state import Loading
from kiln.bundle.typetree import TMap, TNode, TScalar, TSeq, TStruct, bundle_type


def check_schema(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    _check(b.config, bundle_type(), [], diags)
    return b, sorted(diags, key=_cli_order)


def _cli_order(d: Diagnostic) -> tuple[str, str, str]:
    """The CLI's order: by summary, then by its text form of the locations and paths."""
    locs = "[" + " ".join(f"{{{loc.file} {loc.line} {loc.col}}}" for loc in d.locations) + "]"
    return d.summary, locs, str(d.paths)


def _check(value: Value, node: TNode, keys: list[str | int], diags: list[Diagnostic]) -> None:
    v = value.v
    t = type(node)
    if t is TStruct:
        if v is None and keys:  # ``run_job_task:`` with nothing after it: an empty map
            v = {}
        if type(v) is not dict:
            return
        for req in node.required:  # type: ignore[union-attr]
            cur = v.get(req)
            if cur is None or cur.v is None:
                diags.append(Diagnostic(Severity.WARNING, f'required field "{req}" is not set',
                                        locations=(value.loc,), paths=(tuple(keys),)))
        fields = node.fields  # type: ignore[union-attr]
        for k, child in v.items():
            sub = fields.get(k)
            if sub is None or type(sub) is TScalar and not sub.choices:  # type: ignore[union-attr]
                continue
            keys.append(k)
            _check(child, sub, keys, diags)
            keys.pop()
    elif t is TMap or t is TSeq:
        if type(v) is not (dict if t is TMap else list):
            return
        item = node.item  # type: ignore[union-attr]
        if type(item) is TScalar and not item.choices:
            return
        for k, child in (v.items() if t is TMap else enumerate(v)):
            keys.append(k)
            _check(child, item, keys, diags)
            keys.pop()
    elif t is TScalar:
        choices = node.choices  # type: ignore[union-attr]
        if choices and type(v) is str and v not in choices and not v.startswith("${") \
                and not (v == "" and keys[0] == "variables"):  # an empty variable type is unset
            diags.append(Diagnostic(
                Severity.WARNING, f'invalid value "{v}" for enum field. Valid values are '
                f'[{" ".join(choices)}]', locations=(value.loc,),
                paths=(tuple(keys),)))
