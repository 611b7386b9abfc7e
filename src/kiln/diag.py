"""Diagnostics: user-facing problems with their locations.

A diagnostic is data, not a string: a severity, a one-line summary, an optional detail,
the config paths it concerns and the source locations it comes from. Engines collect
diagnostics and keep going where they can, so a user sees every problem at once; the CLI
renders them in the Databricks CLI's shape::

    Error: unknown field: foo
      at resources.jobs.x
      in databricks.yml:8:7
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple


class Location(NamedTuple):
    """A position in a source file; line and column count from 1."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


PathPart = str | int
Path = tuple[PathPart, ...]


def format_path(path: Path) -> str:
    """Render a config path the way the Databricks CLI does: ``a.b[0].c``."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif out:
            out.append("." + part)
        else:
            out.append(part)
    return "".join(out)


class Severity(enum.IntEnum):
    ERROR = 0
    WARNING = 1
    RECOMMENDATION = 2

    @property
    def label(self) -> str:
        return {0: "Error", 1: "Warning", 2: "Recommendation"}[self.value]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    summary: str
    detail: str = ""
    locations: tuple[Location, ...] = ()
    paths: tuple[Path, ...] = ()

    def render(self, relative_to: str | None = None) -> str:
        """The CLI text form: summary, ``at`` paths, ``in`` locations, detail."""
        lines = [f"{self.severity.label}: {self.summary}"]
        paths = [p for p in self.paths if p]  # the root itself is not named
        if paths:
            lines.append("  at " + "\n     ".join(format_path(p) for p in paths))
        if self.locations:
            locs = [_relative(loc, relative_to) for loc in self.locations]
            lines.append("  in " + "\n     ".join(locs))
        if self.detail:
            lines.append("")
            lines.append(self.detail)
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {
            "severity": self.severity.label.lower(),
            "summary": self.summary,
            "detail": self.detail,
            "locations": [
                {"file": loc.file, "line": loc.line, "column": loc.col} for loc in self.locations
            ],
            "paths": [format_path(p) for p in self.paths],
        }


def _relative(loc: Location, base: str | None) -> str:
    import os

    if base and os.path.isabs(loc.file):
        rel = os.path.relpath(loc.file, base)
        if not rel.startswith(".."):
            return str(Location(rel, loc.line, loc.col))
    return str(loc)


def has_errors(diags: Iterable[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diags)


def summary_line(diags: Iterable[Diagnostic]) -> str:
    """``Validation OK!`` or ``Found 1 error and 2 warnings`` as the CLI prints it."""
    counts = {s: 0 for s in Severity}
    for d in diags:
        counts[d.severity] += 1
    parts = [f"{n} {word}" + ("" if n == 1 else "s")
             for sev, word in ((Severity.ERROR, "error"), (Severity.WARNING, "warning"),
                               (Severity.RECOMMENDATION, "recommendation"))
             if (n := counts[sev])]
    if not parts:
        return "Validation OK!"
    if len(parts) == 1:
        return f"Found {parts[0]}"
    if len(parts) == 2:
        return f"Found {parts[0]} and {parts[1]}"
    return f"Found {parts[0]}, {parts[1]}, and {parts[2]}"
