"""``dbutils`` for task code and for a plain local Python session.

In a task, the context comes from the task process (parameters, upstream task values,
where to write task values and the exit value). In a plain session (``get_dbutils()``
with no task) widgets take their defaults and ``taskValues.get`` returns ``debugValue``,
as on a Databricks cluster outside a job.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from typing import Any

from kiln.errors import KilnError


class NotebookExit(Exception):  # noqa: N818 - the name task code may see
    """Raised by ``dbutils.notebook.exit(value)``; ends the notebook successfully."""

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


@dataclass
class TaskContext:
    parameters: dict[str, str] = field(default_factory=dict)
    upstream_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)  # set by this task
    workspace_dir: str | None = None  # for /Workspace and /Volumes paths
    in_job: bool = False


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
    def exit(self, value: Any) -> None:
        raise NotebookExit("" if value is None else str(value))


class _Library:
    def restartPython(self) -> None:  # noqa: N802
        print("dbutils.library.restartPython(): no-op under kiln (each task runs in its own "
              "process)")


class _FS:
    def __init__(self, ctx: TaskContext) -> None:
        self._ctx = ctx

    def _local(self, path: str) -> str:
        p = path
        for prefix in ("dbfs:", "file:"):
            if p.startswith(prefix):
                p = p[len(prefix):]
        if path.startswith("file:") or self._ctx.workspace_dir is None:
            return p
        parts = [x for x in p.split("/") if x]
        if ".." in parts:
            raise KilnError(f"path must not contain '..': {path}")
        if parts and parts[0] == "Volumes":
            return os.path.join(self._ctx.workspace_dir, "volumes", *parts[1:])
        return os.path.join(self._ctx.workspace_dir, "fs", *parts)

    def ls(self, path: str) -> list[dict[str, Any]]:
        local = self._local(path)
        return [{"path": path.rstrip("/") + "/" + n, "name": n + ("/" if os.path.isdir(
            os.path.join(local, n)) else ""), "size": os.path.getsize(os.path.join(local, n))}
                for n in sorted(os.listdir(local))]

    def mkdirs(self, path: str) -> bool:
        os.makedirs(self._local(path), exist_ok=True)
        return True

    def put(self, path: str, contents: str, overwrite: bool = False) -> bool:
        local = self._local(path)
        if os.path.exists(local) and not overwrite:
            raise KilnError(f"{path} already exists; pass overwrite=True")
        os.makedirs(os.path.dirname(local), exist_ok=True)
        with open(local, "w", encoding="utf-8") as f:
            f.write(contents)
        return True

    def head(self, path: str, maxBytes: int = 65536) -> str:  # noqa: N803
        with open(self._local(path), "rb") as f:
            return f.read(maxBytes).decode("utf-8", errors="replace")

    def cp(self, src: str, dst: str, recurse: bool = False) -> bool:
        s, d = self._local(src), self._local(dst)
        os.makedirs(os.path.dirname(d) or ".", exist_ok=True)
        if os.path.isdir(s):
            if not recurse:
                raise KilnError(f"{src} is a directory; pass recurse=True")
            shutil.copytree(s, d, dirs_exist_ok=True)
        else:
            shutil.copy2(s, d)
        return True

    def mv(self, src: str, dst: str, recurse: bool = False) -> bool:
        d = self._local(dst)
        os.makedirs(os.path.dirname(d) or ".", exist_ok=True)
        shutil.move(self._local(src), d)
        return True

    def rm(self, path: str, recurse: bool = False) -> bool:
        local = self._local(path)
        if os.path.isdir(local):
            if not recurse:
                raise KilnError(f"{path} is a directory; pass recurse=True")
            shutil.rmtree(local)
        elif os.path.exists(local):
            os.remove(local)
        else:
            return False
        return True


class DBUtils:
    def __init__(self, ctx: TaskContext | None = None) -> None:
        self._ctx = ctx or TaskContext()
        self.widgets = _Widgets(self._ctx)
        self.jobs = _Jobs(self._ctx)
        self.notebook = _Notebook()
        self.fs = _FS(self._ctx)
        self.library = _Library()


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
