"""The task process: ``python -m kiln.jobs.runtime.task SPEC.json``.

Runs one notebook or Python file the way a Databricks cluster would (``dbutils``,
``display`` and the task's parameters in place), and writes what happened to the spec's
``output`` file: the result state, the notebook's exit value, the task values it set and,
on failure, the error and a traceback that points at the user's cell and line.
"""

from __future__ import annotations

import builtins
import json
import os
import sys
from typing import Any

from kiln.jobs.runtime.dbutils import NotebookExit, TaskContext, install


class _LazySpark:
    """``spark`` for code that reaches it through builtins (modules a notebook imports);
    notebooks and files get the real session itself (see ``_uses_spark``)."""

    def __getattr__(self, name: str) -> Any:
        from kiln.compute.spark import session

        return getattr(session(), name)

    def __repr__(self) -> str:
        return "<spark: the task's SparkSession, created on first use>"


def _uses_spark(code: Any) -> bool:
    """Whether compiled code names ``spark`` anywhere (its functions included)."""
    import types

    stack = [code]
    while stack:
        c = stack.pop()
        if "spark" in c.co_names:
            return True
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return False


def display(*objs: Any) -> None:
    from kiln.compute.spark import show

    for obj in objs:
        if "pyspark" in type(obj).__module__ and show(obj):
            continue
        to_string = getattr(obj, "to_string", None)
        print(to_string() if callable(to_string) else obj)


def _run_magic(cell: Any, namespace: dict[str, Any]) -> None:
    if cell.magic == "sh":
        import subprocess

        proc = subprocess.run(cell.source, shell=True, capture_output=True, text=True)
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        if proc.returncode:
            raise RuntimeError(f"%sh exited with {proc.returncode}")
        return
    if cell.magic == "pip":
        _pip(cell, _ENV_CACHE)
        return
    if cell.magic == "sql":
        # as on Databricks: each statement runs on spark; the last result is shown and
        # kept in _sqldf
        from kiln.compute.spark import session, show

        result = None
        for statement in _statements(cell.source):
            result = session().sql(statement)
        if result is not None:
            show(result)
            namespace["_sqldf"] = result
        return
    raise RuntimeError(f"{cell.origin}: unsupported magic %{cell.magic}")


_ENV_CACHE: str | None = None  # where %pip install builds environments (from the spec)


def _pip(cell: Any, env_cache: str | None) -> None:
    """``%pip install ...``: the packages go to an environment of their own, built once
    per set (as declared libraries are) and put first on this notebook's path."""
    import importlib
    import shlex
    import sysconfig

    from kiln.jobs.environments import environment_python

    args = shlex.split(cell.source)
    if not args or args[0] != "install" or len(args) < 2:
        raise RuntimeError(f"{cell.origin}: kiln runs %pip install only (got %pip "
                           f"{cell.source.strip()})")
    if env_cache is None:
        raise RuntimeError(f"{cell.origin}: %pip install needs a workspace (a job task)")
    reqs = [a for a in args[1:] if a not in ("-q", "--quiet", "-U", "--upgrade")]
    python = environment_python(reqs, env_cache)
    env = os.path.dirname(os.path.dirname(python))
    site = os.path.join(env, os.path.relpath(sysconfig.get_paths()["purelib"], sys.prefix))
    if site not in sys.path:
        sys.path.insert(0, site)
    importlib.invalidate_caches()
    print(f"%pip install {' '.join(reqs)}: installed (environment {os.path.basename(env)})")


def _statements(sql: str) -> list[str]:
    """SQL statements split at semicolons outside quotes and comments."""
    out, cur, quote, i = [], [], None, 0
    while i < len(sql):
        ch = sql[i]
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
            cur.append(ch)
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = len(sql) if j < 0 else j
            continue
        elif ch == ";":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    out.append("".join(cur))
    return [t.strip() for t in out if t.strip()]


def run_notebook(path: str, namespace: dict[str, Any]) -> str | None:
    from kiln.notebook import load_cells

    for cell in load_cells(path):
        if cell.magic:
            _run_magic(cell, namespace)
            continue
        # line numbers in tracebacks match the notebook file
        code = compile("\n" * (cell.first_line - 1) + cell.source, cell.origin, "exec")
        if namespace.get("spark") is None and _uses_spark(code):
            from kiln.compute.spark import session

            namespace["spark"] = session()
        exec(code, namespace)  # noqa: S102 - running the user's notebook is the point
    return None


def entry_point(package: str, name: str) -> Any:
    """A wheel's entry point ``name`` (any group, console scripts first), or the
    function ``name`` of the package's top-level module, as Databricks resolves them."""
    import importlib
    import importlib.metadata as md

    def norm(s: str) -> str:
        return s.lower().replace("-", "_").replace(".", "_")

    try:
        dist = md.distribution(package)
    except md.PackageNotFoundError:
        raise RuntimeError(f"package {package} is not installed in the task's environment; "
                           "add its wheel to the task's libraries") from None
    eps = sorted(dist.entry_points, key=lambda e: e.group != "console_scripts")
    for ep in eps:
        if ep.name == name:
            return ep.load()
    try:
        module = importlib.import_module(norm(package))
        if hasattr(module, name):
            return getattr(module, name)
    except ImportError:
        pass
    known = ", ".join(sorted({e.name for e in eps})) or "none"
    raise RuntimeError(f"package {package} has no entry point {name} (entry points: {known})")


class _Redacting:
    """A text stream that replaces secret values with [REDACTED] before writing."""

    def __init__(self, stream: Any, secrets: list[str]) -> None:
        self._stream = stream
        self._secrets = secrets

    def write(self, text: str) -> int:
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, "[REDACTED]")
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _adapt_mlflow(mlflow: Any, workspace_dir: str | None) -> None:
    from kiln.jobs.runtime.logs import log_each_line_once

    log_each_line_once("mlflow")
    if workspace_dir:
        from kiln.models.store import map_databricks_uris, store_uri

        # the workspace's store, or the kiln server's MLflow door the runner set
        map_databricks_uris(mlflow, os.environ.get("MLFLOW_TRACKING_URI")
                            or store_uri(workspace_dir))


def _error_line(e: BaseException) -> str:
    """``Type: message``; Spark's errors keep their first paragraph (the JVM-style
    details and server stack that follow are in the task's log)."""
    text = str(e)
    detail = getattr(e, "detail", "")
    if isinstance(detail, str) and detail:  # a KilnError's detail (pip's own words, ...)
        text += "\n" + detail
    if type(e).__module__.startswith("pyspark"):
        text = text.split("\n\n", 1)[0].split("\nJVM stacktrace:", 1)[0].strip()
    return f"{type(e).__name__}: {text}"


def _die_with_runner() -> None:
    """End this task's process group when the kiln process that started it is gone
    (killed, crashed): a run's tasks must not outlive the runner that records them."""
    import signal
    import threading

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os.killpg(os.getpgrp(), signal.SIGKILL)

    import time

    threading.Thread(target=watch, daemon=True).start()


def _databricks_modules() -> None:
    """``databricks.feature_engineering`` (and other Databricks-only modules) as kiln
    provides them: first on the path, within the ``databricks`` namespace."""
    from kiln.shims import SHIMS

    sys.path.insert(0, SHIMS)
    loaded = sys.modules.get("databricks")
    if loaded is not None and hasattr(loaded, "__path__"):  # already imported: extend it
        loaded.__path__.insert(0, os.path.join(SHIMS, "databricks"))  # type: ignore[union-attr]


def main(spec_path: str) -> int:
    _die_with_runner()
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    path = spec.get("path", "")
    secrets: list[str] = []
    sys.stdout = _Redacting(sys.stdout, secrets)  # type: ignore[assignment]
    sys.stderr = _Redacting(sys.stderr, secrets)  # type: ignore[assignment]
    ctx = TaskContext(parameters=spec.get("parameters") or {},
                      upstream_values=spec.get("upstream_values") or {},
                      workspace_dir=spec.get("workspace_dir"), in_job=True,
                      redact=secrets.append, notebook_dir=os.path.dirname(path) or None,
                      task_dir=os.path.dirname(spec["output"]))
    dbutils = install(ctx)
    builtins.dbutils = dbutils  # type: ignore[attr-defined]
    _databricks_modules()
    builtins.display = display  # type: ignore[attr-defined]
    builtins.spark = _LazySpark()  # type: ignore[attr-defined]
    from kiln.compute import spark as compute

    cluster = spec.get("cluster") or {}
    os.environ.update({k: str(v) for k, v in (cluster.get("spark_env_vars") or {}).items()})
    compute.configure(workspace_dir=spec.get("workspace_dir"),
                      conf=cluster.get("spark_conf") or {}, anchor=os.getppid())
    compute.install_builder_hook()
    global _ENV_CACHE
    _ENV_CACHE = spec.get("env_cache")
    from kiln.importhooks import after_import
    from kiln.jobs.runtime.logs import show_each_warning_once

    show_each_warning_once()
    after_import("mlflow", lambda m: _adapt_mlflow(m, spec.get("workspace_dir")))
    # notebooks and files run next to themselves (siblings import); wheels in the run's dir
    cwd = spec.get("cwd") or os.path.dirname(path)
    os.makedirs(cwd, exist_ok=True)
    os.chdir(cwd)
    if path:
        sys.path.insert(0, os.path.dirname(path))
    result: dict[str, Any] = {"state": "SUCCESS", "exit_value": None}
    try:
        if spec["kind"] == "notebook":
            namespace = {"__name__": "__main__", "dbutils": dbutils, "display": display,
                         "spark": None}
            run_notebook(path, namespace)
        elif spec["kind"] == "wheel":
            sys.argv = [spec["package"], *(spec.get("argv") or [])]
            entry_point(spec["package"], spec["entry_point"])()
        else:
            import runpy

            sys.argv = [path, *(spec.get("argv") or [])]
            with open(path, "rb") as f:
                uses = _uses_spark(compile(f.read(), path, "exec"))
            runpy.run_path(path, init_globals={"spark": compute.session()} if uses else None,
                           run_name="__main__")
    except NotebookExit as e:
        result["exit_value"] = e.value
    except SystemExit as e:
        if e.code not in (None, 0):
            result.update(state="FAILED", error=f"exited with status {e.code}")
    except BaseException as e:  # noqa: BLE001 - the task's failure is data for the run
        import traceback

        tb = traceback.extract_tb(e.__traceback__)
        user = [fr for fr in tb if not any(
            part in fr.filename.replace(os.sep, "/")
            for part in ("kiln/jobs/runtime", "kiln/compute/", "kiln/importhooks"))]
        trace = "".join(traceback.format_list(user) + traceback.format_exception_only(e))
        sys.stderr.write("Traceback (most recent call last):\n" + trace)
        error = compute.explain_failure(e, spec.get("workspace_dir")) or _error_line(e)
        result.update(state="FAILED", error=error, error_trace=trace)
    result["values"] = ctx.values
    result["secrets_used"] = sorted(set(ctx.secrets_used))
    for key in ("error", "error_trace", "exit_value"):
        if isinstance(result.get(key), str):
            for secret in secrets:
                result[key] = result[key].replace(secret, "[REDACTED]")
    sys.stdout.flush()
    sys.stderr.flush()
    with open(spec["output"], "w", encoding="utf-8") as f:
        json.dump(result, f)
    return 0 if result["state"] == "SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
