"""Checks that every later step relies on."""

from __future__ import annotations

from kiln.diag import Diagnostic, Location, Severity
from kiln.bundle.state import Loading


def require_bundle_name(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    bundle = b.config.get("bundle")
    name = bundle.get("name") if bundle is not None else None
    if name is not None and isinstance(name.v, str) and name.v:
        return b, []
    loc = bundle.key_loc() if bundle is not None else Location(b.root_file, 1, 1)
    return b, [Diagnostic(Severity.ERROR, 'required field "name" is not set',
                          detail="Every bundle has a name: bundle:\n  name: my_project",
                          locations=(loc,), paths=(("bundle",),))]
