"""Databricks notebooks as cells: source-format ``.py`` files and ``.ipynb``. Pure.

A source notebook starts with ``# Databricks notebook source``; cells are separated by
``# COMMAND ----------``; magic cells are written ``# MAGIC %md ...``. ``%run ./other``
inlines the other notebook's cells (relative to the notebook, extension optional);
``%md`` cells are documentation; ``%pip`` and ``%sql`` cells are kept as magic cells for
the runtime to handle or refuse with a clear message.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from kiln.errors import KilnError

HEADER = "# Databricks notebook source"
SEPARATOR = "# COMMAND ----------"
EXTENSIONS = (".py", ".ipynb")
# Source notebooks of every language: extension and comment marker of their header line
SOURCE_LANGUAGES = {"PYTHON": (".py", "# "), "SQL": (".sql", "-- "), "SCALA": (".scala", "// "),
                    "R": (".r", "# ")}
NOTEBOOK_EXTENSIONS = (".py", ".r", ".scala", ".sql", ".ipynb")  # the Databricks CLI's order
_SOURCE_HEADER = re.compile(rb"^(#|--|//) Databricks notebook source")


def is_source_notebook(head: bytes) -> bool:
    """Whether a file's first bytes are a source notebook's header (any language)."""
    return _SOURCE_HEADER.match(head) is not None


@dataclass(frozen=True)
class Cell:
    source: str
    origin: str  # "<notebook path>, cell <n>"
    first_line: int  # line of the cell's first source line in its file (1-based)
    magic: str | None = None  # "pip", "sql", "sh", ... for magic cells


def syntax_error(path: str) -> tuple[str, int, int] | None:
    """(message, line, column) of the first Python syntax error in a notebook, if any."""
    try:
        cells = load_cells(path)
    except KilnError:
        return None  # %run of a missing notebook etc.: reported when the task runs
    for cell in cells:
        if cell.magic:
            continue
        try:
            compile("\n" * (cell.first_line - 1) + cell.source, cell.origin, "exec")
        except SyntaxError as e:
            return (f"{e.msg} ({cell.origin.rsplit(', ', 1)[-1]})", e.lineno or 1,
                    e.offset or 1)
    return None


def find_notebook(path: str) -> str:
    if os.path.isfile(path):
        return path
    for ext in EXTENSIONS:
        if os.path.isfile(path + ext):
            return path + ext
    raise KilnError(f"notebook {path} not found")


def load_cells(path: str, _seen: tuple[str, ...] = ()) -> list[Cell]:
    path = find_notebook(path)
    if path in _seen:
        raise KilnError("%run cycle: " + " -> ".join(_seen + (path,)))
    with open(path, encoding="utf-8") as f:
        text = f.read()
    cells = _ipynb_cells(path, text) if path.endswith(".ipynb") else _source_cells(path, text)
    out: list[Cell] = []
    for cell in cells:
        if cell.magic == "run":
            target = cell.source.strip().split(None, 1)
            if not target:
                raise KilnError(f"{cell.origin}: %run needs a notebook path")
            other = os.path.normpath(os.path.join(os.path.dirname(path), target[0]))
            out.extend(load_cells(other, _seen + (path,)))
        elif cell.magic != "md":
            out.append(cell)
    return out


def _source_cells(path: str, text: str) -> list[Cell]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != HEADER:
        # a plain Python file used as a notebook: one cell
        return [Cell(text, f"{path}, cell 1", 1)]
    cells: list[Cell] = []
    chunk: list[str] = []
    start = 2
    for i, line in enumerate(lines[1:] + [SEPARATOR], start=2):
        if line.strip() == SEPARATOR:
            cells.append(_make_cell(path, len(cells) + 1, chunk, start))
            chunk, start = [], i + 1
        else:
            chunk.append(line)
    return [c for c in cells if c.source.strip()]


def _make_cell(path: str, n: int, lines: list[str], start: int) -> Cell:
    body = [ln for ln in lines]
    stripped = [ln for ln in body if ln.strip()]
    if stripped and all(ln.startswith("# MAGIC") for ln in stripped):
        text = "\n".join(ln[len("# MAGIC "):] if ln.startswith("# MAGIC ") else ln[len("# MAGIC"):]
                         for ln in body if ln.strip())
        first = text.lstrip().split(None, 1)
        magic = first[0][1:] if first and first[0].startswith("%") else None
        rest = first[1] if len(first) > 1 else ""
        return Cell(rest, f"{path}, cell {n}", start, magic or "unknown")
    return Cell("\n".join(body), f"{path}, cell {n}", start)


def _ipynb_cells(path: str, text: str) -> list[Cell]:
    try:
        nb = json.loads(text)
    except ValueError as e:
        raise KilnError(f"{path} is not a valid .ipynb notebook: {e}") from None
    cells: list[Cell] = []
    for n, cell in enumerate(nb.get("cells", []), start=1):
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else str(src)
        if cell.get("cell_type") != "code" or not src.strip():
            continue
        first = src.lstrip().split(None, 1)
        if first and first[0].startswith("%"):
            cells.append(Cell(first[1] if len(first) > 1 else "", f"{path}, cell {n}", 1,
                              first[0][1:]))
        else:
            cells.append(Cell(src, f"{path}, cell {n}", 1))
    return cells
