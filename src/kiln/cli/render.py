"""Rendering for the terminal: Rich styles on a TTY, plain text when piped.

Rich is imported only when a stream is a terminal: piped output (CI, scripts, tests) gets
plain text and kiln starts faster.
"""

from __future__ import annotations

import click

import sys
from collections.abc import Callable
from typing import Any, TextIO

from kiln.diag import Diagnostic, Severity

_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow",
           Severity.RECOMMENDATION: "bold blue"}


def is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def echo(text: str = "", *, err: bool = False) -> None:
    """Print a line of plain text (no markup interpretation) to stdout or stderr."""
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")


def print_json(obj: Any, *, sort_keys: bool = True,
               default: Callable[[Any], Any] | None = None) -> None:
    """JSON on stdout, indented by two spaces (keys sorted unless their order means
    something, such as the columns of a query result)."""
    import orjson

    option = orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
    if sort_keys:
        option |= orjson.OPT_SORT_KEYS
    sys.stdout.buffer.write(orjson.dumps(obj, option=option, default=default))
    sys.stdout.flush()


def print_diagnostics(diags: list[Diagnostic], relative_to: str | None = None) -> None:
    if not diags:
        return
    if not is_tty(sys.stderr):
        sys.stderr.write("".join(d.render(relative_to) + "\n\n" for d in diags))
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(file=sys.stderr, highlight=False, soft_wrap=True)
    for d in diags:
        head, _, rest = d.render(relative_to).partition(": ")
        line = Text()
        line.append(head + ":", style=_STYLES[d.severity])
        line.append(" " + rest)
        console.print(line)
        console.print()


# -o on every list and get: lists print a table or JSON; a get prints its document as JSON
output_opt = click.option("-o", "--output", type=click.Choice(["text", "json"]),
                          default="text", show_default=True, help="Output format.")
document_opt = click.option("-o", "--output", type=click.Choice(["text", "json"]),
                            default="json", show_default=True, expose_value=False,
                            help="Output format (the document is JSON either way).")


def print_rows(output: str, key: str, rows: list[dict[str, Any]], *, empty: str, header: str,
               line: Callable[[dict[str, Any]], str]) -> None:
    """A list command's rows: ``{key: rows}`` as JSON, or a header and one line a row."""
    if output == "json":
        print_json({key: rows}, sort_keys=False)
        return
    if not rows:
        echo(empty)
        return
    echo(header)
    for r in rows:
        echo(line(r))
