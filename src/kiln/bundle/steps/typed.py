"""Build the typed ``BundleConfig`` from the resolved tree.

Normalization has already made kinds agree, so what fails here is what only the models
know: required fields and allowed values. Each pydantic error becomes a diagnostic at the
location of the offending value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiln.diag import Diagnostic, Path, Severity
from kiln.bundle.dyn.value import Value, get_path, to_plain

if TYPE_CHECKING:
    from kiln.bundle.schema import BundleConfig


def build_typed(config: Value) -> tuple["BundleConfig | None", list[Diagnostic]]:
    from pydantic import ValidationError

    from kiln.bundle.schema import BundleConfig

    try:
        return BundleConfig.model_validate(to_plain(config)), []
    except ValidationError as e:
        diags = []
        for err in e.errors():
            path = _tree_path(config, err["loc"])
            node = get_path(config, path) or config
            if err["type"] == "missing":
                field = err["loc"][-1]
                summary = f'required field "{field}" is not set'
            elif err["type"] == "literal_error":
                allowed = err.get("ctx", {}).get("expected", "")
                summary = f"invalid value {err.get('input')!r}: expected {allowed}"
            else:
                summary = err["msg"]
            diags.append(Diagnostic(Severity.ERROR, summary, locations=(node.loc,),
                                    paths=(path,)))
        return None, diags


def _tree_path(config: Value, loc: tuple[object, ...]) -> Path:
    path: list[str | int] = []
    node: Value | None = config
    for part in loc:
        if node is None:
            break
        if isinstance(part, int) and node.is_seq:
            nxt = node.v[part] if part < len(node.v) else None
        elif isinstance(part, str) and node.is_map:
            nxt = node.v.get(part)
        else:
            continue  # union/model tags in pydantic locations: not part of the tree
        if nxt is None:
            break
        path.append(part)
        node = nxt
    return tuple(path)
