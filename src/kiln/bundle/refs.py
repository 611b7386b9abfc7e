"""``${...}`` references inside strings."""

from __future__ import annotations

import re

# a.b-c.d[0].e — as the Databricks CLI: a segment is letters (any script), then groups of
# hyphens/underscores followed by letters or digits.
_SEG = r"[^\W\d_]+(?:[-_]*[^\W_]+)*"
REF = re.compile(rf"\$\{{({_SEG}(?:\[\d+\])*(?:\.{_SEG}(?:\[\d+\])*)*)\}}")
_PART = re.compile(rf"({_SEG})|\[(\d+)\]")


def is_pure_ref(s: object) -> bool:
    if type(s) is not str or not s.startswith("${"):
        return False
    m = REF.fullmatch(s)
    return m is not None


def parse_ref_path(ref: str) -> tuple[str | int, ...]:
    """``var.x.a[0].b`` → ("var", "x", "a", 0, "b")."""
    out: list[str | int] = []
    for name, idx in _PART.findall(ref):
        out.append(int(idx) if idx else name)
    return tuple(out)
