"""Rendering for the terminal: Rich styles on a TTY, plain text when piped."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.text import Text

from kiln.diag import Diagnostic, Severity

_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow",
           Severity.RECOMMENDATION: "bold blue"}


def out() -> Console:
    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def err() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def print_diagnostics(diags: list[Diagnostic], relative_to: str | None = None) -> None:
    console = err()
    for d in diags:
        text = d.render(relative_to)
        head, _, rest = text.partition(": ")
        line = Text()
        line.append(head + ":", style=_STYLES[d.severity])
        line.append(" " + rest)
        console.print(line)
        console.print()
