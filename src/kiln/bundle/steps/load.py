"""Read one config file: parse YAML with locations, then normalize it against the schema."""

from __future__ import annotations

import os

from kiln.diag import Diagnostic
from kiln.bundle.dyn.value import Value
from kiln.bundle.dyn.yamlload import load_yaml_file
from kiln.bundle.normalize import normalize
from kiln.bundle.typetree import bundle_type
from kiln.diag import Severity


def load_config_file(root: str, rel: str) -> tuple[Value, list[Diagnostic]]:
    """The normalized tree of ``root/rel``; an empty file is an empty map."""
    value, diags = load_yaml_file(os.path.join(root, rel), display_name=rel)
    if value is None:
        return Value({}), diags
    if not value.is_map:
        diags.append(Diagnostic(Severity.ERROR,
                                f"{rel}: expected a map at the top level, found "
                                f"{'a sequence' if value.is_seq else 'a scalar'}",
                                locations=(value.loc,)))
        return Value({}, value.loc), diags
    normalized, more = normalize(value, bundle_type())
    return normalized or Value({}, value.loc), diags + more
