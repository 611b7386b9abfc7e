"""Check and rewrite the local paths resources point at, in two passes as the Databricks
CLI makes them.

1. **Normalize.** A relative path is relative to the file that wrote it; it becomes
   relative to the bundle root (``../src/x.py`` in ``resources/jobs.yml`` is ``src/x.py``,
   ``./a.py`` is ``a.py``). Paths that are already remote (``/Workspace/...``,
   ``/Volumes/...``, ``dbfs:/...``, ``s3://...``), references, and the tasks of a job with a
   ``git_source`` are left alone.
2. **Translate.** A local path must lie under the bundle root and exist as the kind its
   field expects: a notebook (a ``.py``/``.sql``/``.scala``/``.r`` file whose first line says
   ``Databricks notebook source``, or an ``.ipynb``; the extension is part of the path, as
   on Databricks), a file that is not a notebook, or a directory. It becomes a workspace
   path under ``workspace.file_path`` (notebooks lose their extension). Pipeline libraries
   with glob patterns expand to one library per match; ``glob.include`` patterns are
   translated as written. Library wheels and jars, which artifact builds may only produce
   at deploy, stay relative to the bundle root. The first problem is the error (the CLI
   stops there); the tree then keeps the normalized paths.

kiln adds one check the CLI leaves to the run: a Python notebook with a syntax error.
"""

from __future__ import annotations

import glob as globlib
import os
import re
from dataclasses import dataclass, field
from typing import Callable

from kiln.diag import Diagnostic, Location, Path, Severity, format_path
from kiln.bundle.dyn.value import Value
from kiln.bundle.edit import edit_each, edit_field, edit_in, edit_resources, get_str, with_field
from kiln.bundle.state import Loading
from kiln.notebook import NOTEBOOK_EXTENSIONS, is_source_notebook, syntax_error
from kiln.pipspec import split_dependency

_REMOTE = re.compile(r"^([a-zA-Z][\w+.-]*:/|/)")
_GLOB = re.compile(r"[*?\[]")

# Path kinds (the CLI's translate modes)
NOTEBOOK, FILE, DIRECTORY, GLOB, LIBRARY = "notebook", "file", "directory", "glob", "library"


def is_remote(path: str) -> bool:
    return bool(_REMOTE.match(path)) or path.startswith("${")


class _Stop(Exception):
    def __init__(self, diag: Diagnostic) -> None:
        self.diag = diag


Visit = Callable[[str, Value, Path], "Value | list[Value]"]


def translate_paths(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    normalized = _walk(b.config, lambda kind, v, p: root_relative(v))
    t = _Translator(b.root, get_str(b.config, "workspace", "file_path") or "")
    try:
        translated = _walk(normalized, t.visit)
    except _Stop as stop:
        return b.with_config(normalized), [stop.diag]
    return b.with_config(translated), []


def root_relative(value: Value) -> Value:
    """A local path, written relative to the file that holds it, as relative to the bundle
    root (``../src/x.py`` in ``resources/jobs.yml`` is ``src/x.py``); remote and absolute
    paths and references as they are."""
    if not isinstance(value.v, str) or is_remote(value.v) or not value.v:
        return value
    base = os.path.dirname(value.loc.file) if value.loc.file else ""
    rel = os.path.normpath(os.path.join(base, value.v)).replace(os.sep, "/")
    return value if rel == value.v else value.with_v(rel)


@dataclass
class _Translator:
    root: str
    file_path: str
    # Large bundles point thousands of tasks at the same few files: answer each once.
    _done: dict[tuple[str, str], str] = field(default_factory=dict)
    _notebooks: dict[str, bool] = field(default_factory=dict)

    def visit(self, kind: str, value: Value, path: Path) -> Value | list[Value]:
        lit = value.v
        if not isinstance(lit, str) or not lit or is_remote(lit):
            return value
        if kind == LIBRARY:  # built at deploy, maybe: checked there
            self.inside_root(value, path)
            return value
        if kind in (NOTEBOOK, FILE) and _GLOB.search(lit) and path[-3] == "libraries":
            return self.expand(kind, value, path)
        hit = self._done.get((kind, lit))
        if hit is None:
            hit = self._done[(kind, lit)] = self.translate(kind, value, path)
        return value.with_v(hit)

    def expand(self, kind: str, value: Value, path: Path) -> list[Value]:
        """A pipeline library with a pattern: one library per match, in order."""
        self.inside_root(value, path)
        matches = sorted(m for m in globlib.glob(value.v, root_dir=self.root)
                         if os.path.isfile(os.path.join(self.root, m)))
        if not matches:
            raise _Stop(_error(f"{kind} {value.v} not found", value, path))
        return [value.with_v(self.translate(kind, value.with_v(m.replace(os.sep, "/")), path))
                for m in matches]

    def translate(self, kind: str, value: Value, path: Path) -> str:
        lit = value.v
        full = self.inside_root(value, path)
        if kind == NOTEBOOK:
            return self.notebook(value, path, full)
        if kind == FILE:
            if not os.path.isfile(full):
                raise _Stop(_error(f"file {lit} not found", value, path))
            if self.is_notebook(full):
                raise _Stop(_error(f'expected a file for "{format_path(path)}" but got a notebook: '
                                   f"file at {full} is a notebook", value, path))
            return f"{self.file_path}/{lit}"
        if kind == DIRECTORY:
            if not os.path.exists(full):
                raise _Stop(_error(f"stat {lit}: no such file or directory", value, path))
            if not os.path.isdir(full):
                raise _Stop(_error(f"{full} is not a directory", value, path))
            return self.file_path if lit == "." else f"{self.file_path}/{lit}"
        return f"{self.file_path}/{lit}"  # GLOB: translated as written

    def notebook(self, value: Value, path: Path, full: str) -> str:
        lit = value.v
        if not os.path.isfile(full):
            if os.path.splitext(lit)[1]:
                raise _Stop(_error(f"notebook {lit} not found", value, path))
            exts = ", ".join(NOTEBOOK_EXTENSIONS)
            guess = next((lit + e for e in NOTEBOOK_EXTENSIONS if os.path.isfile(full + e)), None)
            if guess is not None:
                raise _Stop(_error(f'notebook "{lit}" not found. Did you mean "{guess}"?\n'
                                   "Local notebook references are expected to contain one of "
                                   f"the following\nfile extensions: [{exts}]", value, path))
            raise _Stop(_error(f'notebook "{lit}" not found. Local notebook references are '
                               "expected\nto contain one of the following file extensions: "
                               f"[{exts}]", value, path))
        if not self.is_notebook(full):
            raise _Stop(_error(f'expected a notebook for "{format_path(path)}" but got a file: '
                               f"file at {full} is not a notebook", value, path,
                               "A .py notebook starts with the line "
                               "'# Databricks notebook source'."))
        if full.endswith((".py", ".ipynb")):
            bad = syntax_error(full)
            if bad is not None:
                message, line, col = bad
                raise _Stop(Diagnostic(Severity.ERROR, f"notebook {lit} has a syntax error: "
                                       f"{message}", locations=(Location(lit, line, col),
                                                                value.loc), paths=(path,)))
        return f"{self.file_path}/{_strip_notebook_ext(lit)}"

    def inside_root(self, value: Value, path: Path) -> str:
        full = os.path.normpath(os.path.join(self.root, value.v))
        rel = os.path.relpath(full, self.root)
        if rel == ".." or rel.startswith(".." + os.sep):
            raise _Stop(_error(f"path {full} is not contained in sync root path", value, path))
        return full

    def is_notebook(self, full: str) -> bool:
        hit = self._notebooks.get(full)
        if hit is None:
            hit = full.endswith(".ipynb")
            if not hit and full.lower().endswith(NOTEBOOK_EXTENSIONS):
                try:
                    with open(full, "rb") as f:
                        hit = is_source_notebook(f.read(64))
                except OSError:
                    hit = False
            self._notebooks[full] = hit
        return hit


def _strip_notebook_ext(rel: str) -> str:
    """Notebooks lose their extension on import; designer files keep ``.designer.ipynb``."""
    if rel.endswith(".designer.ipynb"):
        return rel
    stem, ext = os.path.splitext(rel)
    return stem if ext.lower() in NOTEBOOK_EXTENSIONS else rel


def _error(summary: str, value: Value, path: Path, detail: str = "") -> Diagnostic:
    return Diagnostic(Severity.ERROR, summary, detail, locations=(value.loc,), paths=(path,))


# the fields that hold paths --------------------------------------------------------------

def _walk(config: Value, visit: Visit) -> Value:
    def job(key: str, j: Value) -> Value:
        if j.get("git_source") is not None and not j.v["git_source"].is_nil:
            return j  # its paths are in the repository
        base = ("resources", "jobs", key)
        j = _tasks(j, base, visit)
        return edit_each(j, "environments", lambda e, i: edit_in(e, ("spec",), lambda s: _dependencies(
            s, base + ("environments", i, "spec"), visit)))

    def pipeline(key: str, p: Value) -> Value:
        base = ("resources", "pipelines", key)
        p = edit_field(p, "root_path", lambda v: visit(DIRECTORY, v, base + ("root_path",)))
        p = edit_in(p, ("environment",), lambda e: _dependencies(e, base + ("environment",), visit))
        return _libraries(p, base, visit)

    config = edit_resources(config, "jobs", job)
    config = edit_resources(config, "pipelines", pipeline)
    config = edit_resources(config, "apps", lambda k, a: edit_field(
        a, "source_code_path",
        lambda v: visit(DIRECTORY, v, ("resources", "apps", k, "source_code_path"))))
    return edit_resources(config, "dashboards", lambda k, d: edit_field(
        d, "file_path", lambda v: visit(FILE, v, ("resources", "dashboards", k, "file_path"))))


def _task_fields(visit: Visit) -> list[Callable[[Value, Path], Value]]:
    """One editor per path field of a task, in the CLI's order (it visits each field in
    every task before the next field)."""
    def local(obj: Value) -> bool:
        return get_str(obj, "source") != "GIT"

    def simple(key: str, sub: str, kind: str) -> Callable[[Value, Path], Value]:
        return lambda t, path: edit_in(t, (key,), lambda o: edit_field(
            o, sub, lambda v: visit(kind, v, path + (key, sub))) if local(o) else o)

    def sql(t: Value, path: Path) -> Value:
        return edit_in(t, ("sql_task", "file"), lambda f: edit_field(
            f, "path", lambda v: visit(FILE, v, path + ("sql_task", "file", "path")))
            if local(f) else f)

    def requirements(t: Value, path: Path) -> Value:
        return edit_each(t, "libraries", lambda lib, i: edit_field(
            lib, "requirements", lambda v: visit(FILE, v, path + ("libraries", i, "requirements"))))

    return [simple("notebook_task", "notebook_path", NOTEBOOK),
            simple("spark_python_task", "python_file", FILE),
            simple("dbt_task", "project_directory", DIRECTORY), sql, requirements]


def _tasks(j: Value, base: Path, visit: Visit) -> Value:
    fields = _task_fields(visit)
    for edit in fields:
        j = edit_each(j, "tasks", lambda t, i, edit=edit: edit(t, base + ("tasks", i)))
    for edit in fields:
        j = edit_each(j, "tasks", lambda t, i, edit=edit: edit_in(
            t, ("for_each_task", "task"),
            lambda inner: edit(inner, base + ("tasks", i, "for_each_task", "task"))))

    def libraries(t: Value, i: int) -> Value:
        def one(lib: Value, n: int) -> Value:
            for key in ("whl", "jar", "egg"):
                lib = edit_field(lib, key, lambda v, key=key: visit(
                    LIBRARY, v, base + ("tasks", i, "libraries", n, key)))
            return lib
        return edit_each(t, "libraries", one)

    return edit_each(j, "tasks", libraries)


def _libraries(p: Value, base: Path, visit: Visit) -> Value:
    libs = p.get("libraries")
    if libs is None or not libs.is_seq:
        return p
    out: list[Value] = []
    for i, lib in enumerate(libs.v):
        lib = edit_in(lib, ("glob",), lambda g: edit_field(
            g, "include", lambda v: visit(GLOB, v, base + ("libraries", i, "glob", "include"))))
        expanded = [lib]
        for kind in (NOTEBOOK, FILE):
            obj = lib.get(kind) if lib.is_map else None
            v = obj.get("path") if obj is not None and obj.is_map else None
            if v is None:
                continue
            new = visit(kind, v, base + ("libraries", i, kind, "path"))
            if isinstance(new, list):  # a pattern: one library per match
                expanded = [with_field(lib, kind, with_field(obj, "path", n)) for n in new]  # type: ignore[arg-type]
            else:
                expanded = [with_field(lib, kind, with_field(obj, "path", new))]  # type: ignore[arg-type]
        out.extend(expanded)
    return with_field(p, "libraries", Value(out, libs.loc, libs.kloc))


def _dependencies(holder: Value, path: Path, visit: Visit) -> Value:
    """Local paths in ``dependencies`` (``-r ../requirements.txt``, ``-e ..``,
    ``./dist/*.whl``); package specifiers stay as they are. Wheels (maybe built at deploy)
    stay relative to the bundle root, written ``./...``."""
    deps = holder.get("dependencies")
    if deps is None or not deps.is_seq:
        return holder
    new = []
    for i, dep in enumerate(deps.v):
        if isinstance(dep.v, str):
            flag, target = split_dependency(dep.v)
            if target is not None and is_local_dependency(target):
                p = path + ("dependencies", i)
                src = dep.with_v(target[2:] if target.startswith("./") else target)
                kind = LIBRARY if target.endswith(".whl") else (
                    DIRECTORY if flag == "-e" else FILE)
                moved = visit(kind, src, p)
                assert isinstance(moved, Value)
                text = moved.v
                if not text.startswith(("./", "../", "/")):
                    text = "./" + text  # still reads as a local path, not a package
                dep = dep.with_v(f"{flag} {text}" if flag else text)
        new.append(dep)
    return with_field(holder, "dependencies", Value(new, deps.loc, deps.kloc))


def is_local_dependency(target: str) -> bool:
    """A path in the bundle (not a package name, URL, flag, quoted or workspace path)."""
    if is_remote(target) or "://" in target or target.startswith(("-", "'", '"')):
        return False
    return target.startswith(("./", "../")) or target.endswith((".whl", ".txt")) \
        or target in (".", "..")
