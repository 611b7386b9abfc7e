"""``dbutils`` for task code and for a plain local Python session.

In a task, the context comes from the task process (parameters, upstream task values,
where to write task values and the exit value). In a plain session (``get_dbutils()``
with no task) widgets take their defaults and ``taskValues.get`` returns ``debugValue``,
as on a Databricks cluster outside a job.
"""

from __future__ import annotations

import json
import os
from typing import Any

from kiln.errors import AlreadyExists, KilnError, NotFound
from kiln.workspace.local.paths import local_path


class NotebookExit(Exception):  # noqa: N818 - the name task code may see
    """Raised by ``dbutils.notebook.exit(value)``; ends the notebook successfully."""

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


class TaskContext:
    """What a task process knows (a plain class: task processes start without dataclasses)."""

    def __init__(self, parameters: dict[str, str] | None = None,
                 upstream_values: dict[str, dict[str, Any]] | None = None,
                 workspace_dir: str | None = None, in_job: bool = False, redact: Any = None,
                 notebook_dir: str | None = None, task_dir: str | None = None) -> None:
        self.parameters = parameters or {}
        self.upstream_values = upstream_values or {}
        self.values: dict[str, Any] = {}  # set by this task
        self.workspace_dir = workspace_dir  # for /Workspace and /Volumes paths
        self.in_job = in_job
        self.secrets_used: list[tuple[str, str]] = []
        self.redact = redact  # called with each secret value read, to hide it from the logs
        self.notebook_dir = notebook_dir  # for dbutils.notebook.run's relative paths
        self.task_dir = task_dir  # where nested notebook runs keep their logs
        self._client: Any = None

    def client(self, what: str) -> Any:
        """The task's workspace client (``kiln.workspace.task_client``), made once; ``what``
        names the caller in the error outside a workspace."""
        from kiln.workspace.task_client import task_client

        if self.workspace_dir is None:
            raise KilnError(f"{what} needs a workspace: run the code as a kiln job task")
        if self._client is None:
            self._client = task_client(workspace_dir=self.workspace_dir)
        return self._client


class _Widgets:
    def __init__(self, ctx: TaskContext) -> None:
        self._ctx = ctx
        self._defaults: dict[str, str] = {}

    def _define(self, name: str, default: Any) -> None:
        self._defaults[name] = "" if default is None else str(default)

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:  # noqa: N803
        self._define(name, defaultValue)

    def dropdown(self, name: str, defaultValue: str, choices: list[str],  # noqa: N803
                 label: str | None = None) -> None:
        if defaultValue not in choices:
            raise KilnError(f"widget {name}: default {defaultValue!r} is not one of {choices}")
        self._define(name, defaultValue)

    def combobox(self, name: str, defaultValue: str, choices: list[str],  # noqa: N803
                 label: str | None = None) -> None:
        self._define(name, defaultValue)

    def multiselect(self, name: str, defaultValue: str, choices: list[str],  # noqa: N803
                    label: str | None = None) -> None:
        self._define(name, defaultValue)

    def get(self, name: str) -> str:
        if name in self._ctx.parameters:
            return self._ctx.parameters[name]
        if name in self._defaults:
            return self._defaults[name]
        raise KilnError(f"InputWidgetNotDefined: no input widget named {name} is defined")

    def getArgument(self, name: str, defaultValue: str | None = None) -> str | None:  # noqa: N802,N803
        try:
            return self.get(name)
        except KilnError:
            return defaultValue

    def getAll(self) -> dict[str, str]:  # noqa: N802
        return {**self._defaults, **self._ctx.parameters}

    def remove(self, name: str) -> None:
        self._defaults.pop(name, None)

    def removeAll(self) -> None:  # noqa: N802
        self._defaults.clear()


class _TaskValues:
    def __init__(self, ctx: TaskContext) -> None:
        self._ctx = ctx

    def set(self, key: str, value: Any) -> None:
        try:
            json.dumps(value)
        except TypeError:
            raise KilnError(f"task value {key} must be JSON-serializable, got "
                            f"{type(value).__name__}") from None
        self._ctx.values[key] = value

    def get(self, taskKey: str, key: str, default: Any = None,  # noqa: N803
            debugValue: Any = None) -> Any:  # noqa: N803
        if not self._ctx.in_job:
            if debugValue is None:
                raise KilnError("taskValues.get outside a job needs a debugValue")
            return debugValue
        values = self._ctx.upstream_values.get(taskKey)
        if values is None:
            raise KilnError(f"task {taskKey} is not an upstream task of this task or set no values")
        if key in values:
            return values[key]
        if default is not None:
            return default
        raise KilnError(f"task {taskKey} did not set a value {key!r}")


class _Jobs:
    def __init__(self, ctx: TaskContext) -> None:
        self.taskValues = _TaskValues(ctx)  # noqa: N815


class _Notebook:
    def __init__(self, ctx: TaskContext) -> None:
        self._ctx = ctx
        self._runs = 0

    def exit(self, value: Any) -> None:
        raise NotebookExit("" if value is None else str(value))

    def run(self, path: str, timeout_seconds: int = 0,
            arguments: dict[str, str] | None = None) -> str:
        """Run another notebook in its own process; its exit value, or an error."""
        from kiln.jobs.runner import run_process
        from kiln.notebook import find_notebook

        if path.startswith("/"):
            local = self._ctx.workspace_dir and local_path(self._ctx.workspace_dir, path)
        else:
            local = os.path.normpath(os.path.join(self._ctx.notebook_dir or os.getcwd(), path))
        if not local:
            raise KilnError(f"cannot resolve notebook {path} outside a workspace")
        self._runs += 1
        task_dir = os.path.join(self._ctx.task_dir or os.getcwd(), f"notebook-run-{self._runs}")
        spec = {"kind": "notebook", "path": find_notebook(local),
                "parameters": {k: str(v) for k, v in (arguments or {}).items()},
                "workspace_dir": self._ctx.workspace_dir}
        attempt = run_process(spec, task_dir, timeout_seconds or None)
        if attempt.result_state != "SUCCESS":
            raise KilnError(f"notebook {path} {attempt.result_state.lower()}: {attempt.error}")
        return attempt.exit_value or ""


class _Library:
    def restartPython(self) -> None:  # noqa: N802
        print("dbutils.library.restartPython(): no-op under kiln (each task runs in its own "
              "process)")


class _FS:
    def __init__(self, ctx: TaskContext) -> None:
        self._ctx = ctx

    def _local(self, path: str, write: bool = False) -> str:
        """The file a path names; a ``/Volumes/...`` path once the workspace has said the
        user may read it (READ VOLUME) or write it (WRITE VOLUME)."""
        p = path
        for prefix in ("dbfs:", "file:"):
            if p.startswith(prefix):
                p = p[len(prefix):]
        if path.startswith("file:") or self._ctx.workspace_dir is None:
            return p
        local = local_path(self._ctx.workspace_dir, p)
        if p.startswith("/Volumes/"):
            self._ctx.client("dbutils.fs").require_path(p, write)
        return local

    def ls(self, path: str) -> list[dict[str, Any]]:
        local = self._local(path)
        return [{"path": path.rstrip("/") + "/" + n, "name": n + ("/" if os.path.isdir(
            os.path.join(local, n)) else ""), "size": os.path.getsize(os.path.join(local, n))}
                for n in sorted(os.listdir(local))]

    def mkdirs(self, path: str) -> bool:
        os.makedirs(self._local(path, write=True), exist_ok=True)
        return True

    def put(self, path: str, contents: str, overwrite: bool = False) -> bool:
        local = self._local(path, write=True)
        if os.path.exists(local) and not overwrite:
            raise AlreadyExists(f"{path} already exists; pass overwrite=True")
        os.makedirs(os.path.dirname(local), exist_ok=True)
        with open(local, "w", encoding="utf-8") as f:
            f.write(contents)
        return True

    def head(self, path: str, maxBytes: int = 65536) -> str:  # noqa: N803
        with open(self._local(path), "rb") as f:
            return f.read(maxBytes).decode("utf-8", errors="replace")

    def cp(self, src: str, dst: str, recurse: bool = False) -> bool:
        import shutil

        s, d = self._local(src), self._local(dst, write=True)
        os.makedirs(os.path.dirname(d) or ".", exist_ok=True)
        if os.path.isdir(s):
            if not recurse:
                raise KilnError(f"{src} is a directory; pass recurse=True")
            shutil.copytree(s, d, dirs_exist_ok=True)
        else:
            shutil.copy2(s, d)
        return True

    def mv(self, src: str, dst: str, recurse: bool = False) -> bool:
        import shutil

        s, d = self._local(src, write=True), self._local(dst, write=True)
        os.makedirs(os.path.dirname(d) or ".", exist_ok=True)
        shutil.move(s, d)
        return True

    def rm(self, path: str, recurse: bool = False) -> bool:
        local = self._local(path, write=True)
        if os.path.isdir(local):
            if not recurse:
                raise KilnError(f"{path} is a directory; pass recurse=True")
            import shutil

            shutil.rmtree(local)
        elif os.path.exists(local):
            os.remove(local)
        else:
            return False
        return True


class SecretMetadata:
    def __init__(self, key: str) -> None:
        self.key = key

    def __repr__(self) -> str:
        return f"SecretMetadata(key={self.key!r})"


class SecretScope:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"SecretScope(name={self.name!r})"


class _Secrets:
    def __init__(self, ctx: TaskContext) -> None:
        self._ctx = ctx

    def _client(self) -> Any:
        return self._ctx.client("dbutils.secrets")

    def get(self, scope: str, key: str) -> str:
        try:
            value = self._client().secret(scope, key)
        except NotFound:
            raise NotFound(f"secret does not exist with scope: {scope} and key: {key}") \
                from None
        self._ctx.secrets_used.append((scope, key))
        if self._ctx.redact is not None:
            self._ctx.redact(value)
        return value

    def getBytes(self, scope: str, key: str) -> bytes:  # noqa: N802
        return self.get(scope, key).encode("utf-8")

    def list(self, scope: str) -> list[SecretMetadata]:
        try:
            keys = self._client().secret_keys(scope)
        except NotFound:
            raise NotFound(f"secret scope {scope} does not exist") from None
        return [SecretMetadata(k) for k in keys]

    def listScopes(self) -> list[SecretScope]:  # noqa: N802
        return [SecretScope(s) for s in self._client().secret_scopes()]


class DBUtils:
    def __init__(self, ctx: TaskContext | None = None) -> None:
        self._ctx = ctx or TaskContext()
        self.widgets = _Widgets(self._ctx)
        self.jobs = _Jobs(self._ctx)
        self.notebook = _Notebook(self._ctx)
        self.fs = _FS(self._ctx)
        self.library = _Library()
        self.secrets = _Secrets(self._ctx)


_current: DBUtils | None = None


def get_dbutils() -> DBUtils:
    """The task's ``dbutils`` in a job, a fresh one in a plain Python session."""
    global _current
    if _current is None:
        _current = DBUtils()
    return _current


def install(ctx: TaskContext) -> DBUtils:
    global _current
    _current = DBUtils(ctx)
    return _current
