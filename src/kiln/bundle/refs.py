"""``${...}`` references inside strings."""

from __future__ import annotations

import re

# a.b-c.d[0].e — segments start with a letter; hyphens and underscores inside names.
REF = re.compile(r"\$\{([A-Za-z_][\w-]*(?:\[\d+\])*(?:\.[A-Za-z_][\w-]*(?:\[\d+\])*)*)\}")
_PART = re.compile(r"([A-Za-z_][\w-]*)|\[(\d+)\]")


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
