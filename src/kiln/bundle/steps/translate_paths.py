"""Check and rewrite the local paths resources point at.

A relative path is relative to the file that wrote it. Notebook paths may leave out the
extension (``../notebooks/Train`` finds ``Train.py``); a ``.py``/``.sql``/``.scala``/``.r``
file is a notebook when its first line says ``Databricks notebook source``. Found paths
become workspace paths under ``workspace.file_path`` (notebooks lose their extension);
missing ones are errors (``notebook x not found``, ``file x not found``). Paths that are
already remote (``/Workspace/...``, ``/Volumes/...``, ``dbfs:/...``, ``s3://...``) or come
from Git (``source: GIT``) are left alone. Library wheels and jars, which artifact builds
may only produce at deploy, become paths relative to the bundle root.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from kiln.diag import Diagnostic, Location, Path, Severity
from kiln.bundle.dyn.value import Value
from kiln.bundle.edit import edit_resources, get_str, with_field
from kiln.bundle.state import Loading
from kiln.notebook import syntax_error
from kiln.pipspec import split_dependency

NOTEBOOK_EXTS = (".py", ".ipynb", ".sql", ".scala", ".r", ".R")
_HEADER = re.compile(rb"^(#|--|//) Databricks notebook source")
_REMOTE = re.compile(r"^([a-zA-Z][\w+.-]*:/|/)")


def is_remote(path: str) -> bool:
    return bool(_REMOTE.match(path)) or path.startswith("${")


@dataclass
class _Translator:
    root: str
    file_path: str
    diags: list[Diagnostic] = field(default_factory=list)
    _notebook_cache: dict[str, bool] = field(default_factory=dict)
    # Large bundles point thousands of tasks at the same few files: answer each
    # (directory, path, kind) once.
    _done: dict[tuple[str, str, str], tuple[str | None, Diagnostic | None]] = field(
        default_factory=dict)

    def cached(self, kind: str, value: Value, path: Path, fn) -> Value:  # type: ignore[no-untyped-def]
        key = (os.path.dirname(value.loc.file), value.v, kind)
        hit = self._done.get(key)
        if hit is None:
            before = len(self.diags)
            out = fn(value, path)
            err = self.diags[before] if len(self.diags) > before else None
            hit = (out.v if err is None else None, err)
            self._done[key] = hit
            return out
        new, err = hit
        if err is not None:
            self.diags.append(Diagnostic(err.severity, err.summary, err.detail,
                                         (value.loc,), (path,)))
            return value
        return value.with_v(new)

    def local(self, value: Value) -> str:
        """The absolute local path a relative value means."""
        base = os.path.dirname(value.loc.file) if value.loc.file else ""
        return os.path.normpath(os.path.join(self.root, base, value.v))

    def rel_in_root(self, value: Value, abs_path: str, path: Path) -> str | None:
        rel = os.path.relpath(abs_path, self.root)
        if rel == ".." or rel.startswith(".." + os.sep):
            self.diags.append(Diagnostic(
                Severity.ERROR, f"path {value.v} is not contained in the bundle root {self.root}",
                locations=(value.loc,), paths=(path,)))
            return None
        return rel.replace(os.sep, "/")

    def is_notebook(self, abs_path: str) -> bool:
        hit = self._notebook_cache.get(abs_path)
        if hit is None:
            if abs_path.endswith(".ipynb"):
                hit = True
            elif abs_path.endswith(NOTEBOOK_EXTS):
                try:
                    with open(abs_path, "rb") as f:
                        hit = bool(_HEADER.match(f.read(64)))
                except OSError:
                    hit = False
            else:
                hit = False
            self._notebook_cache[abs_path] = hit
        return hit

    def notebook(self, value: Value, path: Path) -> Value:
        if not isinstance(value.v, str) or is_remote(value.v):
            return value
        return self.cached("notebook", value, path, self._notebook)

    def _notebook(self, value: Value, path: Path) -> Value:
        base = self.local(value)
        found = base if os.path.isfile(base) else next(
            (base + e for e in NOTEBOOK_EXTS if os.path.isfile(base + e)), None)
        if found is None:
            self.diags.append(Diagnostic(Severity.ERROR, f"notebook {value.v} not found",
                                         locations=(value.loc,), paths=(path,)))
            return value
        if not self.is_notebook(found):
            rel = os.path.relpath(found, self.root)
            self.diags.append(Diagnostic(
                Severity.ERROR,
                f"expected a notebook but got a file: file at {rel} is not a notebook",
                detail="A .py notebook starts with the line '# Databricks notebook source'.",
                locations=(value.loc,), paths=(path,)))
            return value
        rel = self.rel_in_root(value, found, path)
        if rel is None:
            return value
        if found.endswith((".py", ".ipynb")):
            bad = syntax_error(found)
            if bad is not None:
                message, line, col = bad
                self.diags.append(Diagnostic(
                    Severity.ERROR, f"notebook {value.v} has a syntax error: {message}",
                    locations=(Location(rel, line, col), value.loc), paths=(path,)))
                return value
        stem, ext = os.path.splitext(rel)
        return value.with_v(f"{self.file_path}/{stem if ext in NOTEBOOK_EXTS else rel}")

    def file(self, value: Value, path: Path, *, directory: bool = False) -> Value:
        if not isinstance(value.v, str) or is_remote(value.v):
            return value
        return self.cached("dir" if directory else "file", value, path,
                           lambda v, p: self._file(v, p, directory=directory))

    def _file(self, value: Value, path: Path, *, directory: bool) -> Value:
        found = self.local(value)
        ok = os.path.isdir(found) if directory else os.path.isfile(found)
        if not ok:
            what = "directory" if directory else "file"
            self.diags.append(Diagnostic(Severity.ERROR, f"{what} {value.v} not found",
                                         locations=(value.loc,), paths=(path,)))
            return value
        if not directory and found.endswith(NOTEBOOK_EXTS) and self.is_notebook(found):
            rel = os.path.relpath(found, self.root)
            self.diags.append(Diagnostic(
                Severity.ERROR,
                f"expected a file but got a notebook: file at {rel} is a notebook", locations=(value.loc,), paths=(path,)))
            return value
        rel = self.rel_in_root(value, found, path)
        return value if rel is None else value.with_v(f"{self.file_path}/{rel}")

    def library(self, value: Value, path: Path) -> Value:
        if not isinstance(value.v, str) or is_remote(value.v):
            return value
        rel = self.rel_in_root(value, self.local(value), path)
        return value if rel is None else value.with_v(rel)

    # jobs ------------------------------------------------------------------------
    def task(self, task: Value, path: Path, git: bool) -> Value:
        def sub(t: Value, key: str, fn) -> Value:  # type: ignore[no-untyped-def]
            obj = t.v.get(key)
            if obj is None or type(obj.v) is not dict:
                return t
            return with_field(t, key, fn(obj, path + (key,)))

        def from_git(obj: Value) -> bool:
            src = get_str(obj, "source")
            return src == "GIT" or (src is None and git)

        def notebook(obj: Value, p: Path) -> Value:
            v = obj.get("notebook_path")
            if v is None or from_git(obj):
                return obj
            return with_field(obj, "notebook_path", self.notebook(v, p + ("notebook_path",)))

        def python(obj: Value, p: Path) -> Value:
            v = obj.get("python_file")
            if v is None or from_git(obj):
                return obj
            return with_field(obj, "python_file", self.file(v, p + ("python_file",)))

        def sql(obj: Value, p: Path) -> Value:
            f = obj.get("file")
            if f is None or not f.is_map or f.get("path") is None or from_git(f):
                return obj
            fp = self.file(f.v["path"], p + ("file", "path"))
            return with_field(obj, "file", with_field(f, "path", fp))

        def dbt(obj: Value, p: Path) -> Value:
            v = obj.get("project_directory")
            if v is None or from_git(obj):
                return obj
            return with_field(obj, "project_directory",
                              self.file(v, p + ("project_directory",), directory=True))

        def for_each(obj: Value, p: Path) -> Value:
            inner = obj.get("task")
            if inner is None or not inner.is_map:
                return obj
            return with_field(obj, "task", self.task(inner, p + ("task",), git))

        for key, fn in (("notebook_task", notebook), ("spark_python_task", python),
                        ("sql_task", sql), ("dbt_task", dbt), ("for_each_task", for_each)):
            if key in task.v:
                task = sub(task, key, fn)
        libs = task.v.get("libraries")
        if libs is not None and libs.is_seq:
            new = []
            for i, lib in enumerate(libs.v):
                lp = path + ("libraries", i)
                if lib.is_map:
                    for key in ("whl", "jar", "egg"):
                        if lib.get(key) is not None:
                            lib = with_field(lib, key, self.library(lib.v[key], lp + (key,)))
                    if lib.get("requirements") is not None:
                        lib = with_field(lib, "requirements",
                                         self.file(lib.v["requirements"], lp + ("requirements",)))
                new.append(lib)
            task = with_field(task, "libraries", Value(new, libs.loc, libs.kloc))
        return task

    def job(self, key: str, job: Value) -> Value:
        tasks = job.get("tasks")
        if tasks is not None and tasks.is_seq:
            git = job.get("git_source") is not None and not job.v["git_source"].is_nil
            base = ("resources", "jobs", key, "tasks")
            new = [self.task(t, base + (i,), git) if t.is_map else t
                   for i, t in enumerate(tasks.v)]
            job = with_field(job, "tasks", Value(new, tasks.loc, tasks.kloc))
        envs = job.get("environments")
        if envs is not None and envs.is_seq:
            job = with_field(job, "environments", Value(
                [self.environment(e, ("resources", "jobs", key, "environments", i))
                 if e.is_map else e for i, e in enumerate(envs.v)], envs.loc, envs.kloc))
        return job

    def environment(self, env: Value, path: Path) -> Value:
        """Local paths in ``spec.dependencies`` (``-r ../requirements.txt``, ``-e ..``,
        ``./dist/*.whl``), relative to the file that declares them, become workspace
        paths; package specifiers stay as they are."""
        spec = env.get("spec")
        if spec is None or not spec.is_map:
            return env
        return with_field(env, "spec", self.dependencies(spec, path + ("spec",)))

    def dependencies(self, holder: Value, path: Path) -> Value:
        deps = holder.get("dependencies")
        if deps is None or not deps.is_seq:
            return holder
        new = []
        for i, dep in enumerate(deps.v):
            if isinstance(dep.v, str):
                flag, target = split_dependency(dep.v)
                if target is not None and is_local_dependency(target):
                    p = path + ("dependencies", i)
                    src = dep.with_v(target)
                    if target.endswith(".whl"):  # may be built at deploy: stays relative
                        moved = self.library(src, p)
                        if moved is not src:
                            moved = moved.with_v("./" + moved.v)
                    else:
                        moved = self.file(src, p, directory=flag == "-e"
                                          and os.path.isdir(self.local(src)))
                    dep = dep.with_v(f"{flag} {moved.v}" if flag else moved.v)
            new.append(dep)
        return with_field(holder, "dependencies", Value(new, deps.loc, deps.kloc))

    def pipeline(self, key: str, p: Value) -> Value:
        env = p.get("environment")
        if env is not None and env.is_map:
            p = with_field(p, "environment", self.dependencies(
                env, ("resources", "pipelines", key, "environment")))
        libs = p.get("libraries")
        if libs is None or not libs.is_seq:
            return p
        new = []
        for i, lib in enumerate(libs.v):
            lp = ("resources", "pipelines", key, "libraries", i)
            for kind, fn in (("notebook", self.notebook), ("file", self.file)):
                obj = lib.get(kind) if lib.is_map else None
                if obj is not None and obj.is_map and obj.get("path") is not None:
                    lib = with_field(lib, kind, with_field(obj, "path",
                                                           fn(obj.v["path"], lp + (kind, "path"))))
            new.append(lib)
        return with_field(p, "libraries", Value(new, libs.loc, libs.kloc))


def is_local_dependency(target: str) -> bool:
    """A path in the bundle (not a package name, URL, flag, quoted or workspace path)."""
    if is_remote(target) or "://" in target or target.startswith(("-", "'", '"')):
        return False
    return target.startswith(("./", "../")) or target.endswith((".whl", ".txt")) \
        or target in (".", "..")


def translate_paths(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    file_path = get_str(b.config, "workspace", "file_path") or ""
    t = _Translator(b.root, file_path)
    config = edit_resources(b.config, "jobs", t.job)
    config = edit_resources(config, "pipelines", t.pipeline)
    config = edit_resources(config, "apps", lambda k, a: _field(
        a, "source_code_path", lambda v: t.file(v, ("resources", "apps", k, "source_code_path"),
                                                directory=True)))
    config = edit_resources(config, "dashboards", lambda k, d: _field(
        d, "file_path", lambda v: t.file(v, ("resources", "dashboards", k, "file_path"))))
    return b.with_config(config), t.diags


def _field(obj: Value, key: str, fn) -> Value:  # type: ignore[no-untyped-def]
    v = obj.get(key)
    return obj if v is None else with_field(obj, key, fn(v))


