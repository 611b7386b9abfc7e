"""pip arguments as bundles write them in ``environments[].spec.dependencies``. Pure,
stdlib only (the bundle engine and the job engine both read them)."""

from __future__ import annotations


def split_dependency(dep: str) -> tuple[str | None, str | None]:
    """``("-r", path)`` for requirement and editable flags, ``(None, dep)`` otherwise."""
    text = dep.strip()
    for flag, long in (("-r", "--requirement"), ("-e", "--editable")):
        for prefix in (flag, long):
            if text.startswith(prefix) and (len(text) == len(prefix) or
                                            text[len(prefix)] in " =\t"):
                return flag, text[len(prefix):].lstrip(" =\t") or None
    return None, text
