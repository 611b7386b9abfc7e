"""Unity Catalog style names: ``catalog.schema.object``. Pure.

kiln accepts letters, digits and underscores (and backquoted parts of the same), so a
name can never smuggle a path separator, a quote or SQL into a file path or a query.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from kiln.errors import KilnError

_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")


class FullName(NamedTuple):
    catalog: str
    schema: str
    name: str

    def __str__(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.name}"


def split_name(text: str, what: str, count: int) -> list[str]:
    if not isinstance(text, str) or not text:
        raise KilnError(f"invalid {what} name {text!r}: expected {_shape(count)}")
    parts = [p[1:-1] if len(p) >= 2 and p[0] == p[-1] == "`" else p for p in text.split(".")]
    if len(parts) != count:
        raise KilnError(f"invalid {what} name {text!r}: expected {_shape(count)}")
    for p in parts:
        if not _PART.match(p):
            raise KilnError(f"invalid {what} name {text!r}: {p!r} must start with a letter or "
                            "'_' and contain only letters, digits and '_'")
    return [p.lower() for p in parts]  # Unity Catalog names are case-insensitive


def parse_name(text: str, what: str = "table") -> FullName:
    return FullName(*split_name(text, what, 3))


def _shape(count: int) -> str:
    return {3: "catalog.schema.name", 2: "catalog.schema", 1: "a name"}[count]
