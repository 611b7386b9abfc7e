"""Each workspace's own MLflow: a tracking store and model registry in SQLite, and an
artifact root, all under ``<workspace>/mlflow/``.

The first store on a machine is created by MLflow itself (its migrations take seconds);
kiln keeps that empty, migrated database as a template in its cache directory and copies
it for every later workspace, so a new workspace gets its MLflow in milliseconds.

Nothing here imports MLflow until a client is asked for.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from kiln.workspace import layout
from typing import Any, Iterator

# MLflow reads the artifact root of a SQL store from this variable when none is passed
# (the tracking server sets it); kiln sets it so that experiments created by task code
# (``mlflow.set_experiment``) keep their artifacts in the workspace, not in ``./mlruns``.
ARTIFACT_ROOT_ENV = "_MLFLOW_SERVER_ARTIFACT_ROOT"


# where experiments this process makes keep their artifacts: the workspace's artifact root,
# or, in a kiln server (``serve_artifacts``), ``mlflow-artifacts:/``, which its clients
# on other machines reach through it
_SERVED = "mlflow-artifacts:/"
_served: list[bool] = []


def serve_artifacts() -> None:
    """This process is a kiln server that serves its workspace's artifacts: experiments it
    makes (a bundle's, deployed through it) keep them at ``mlflow-artifacts:/<id>``, stored
    in the workspace's artifact root (``kiln.models.artifacts`` resolves them there)."""
    _served.append(True)


def mlflow_dir(workspace_dir: str) -> str:
    return layout.mlflow_dir(workspace_dir)


def db_path(workspace_dir: str) -> str:
    return os.path.join(mlflow_dir(workspace_dir), "mlflow.db")


def store_uri(workspace_dir: str) -> str:
    return f"sqlite:///{db_path(workspace_dir)}"


def artifact_root(workspace_dir: str) -> str:
    return os.path.join(mlflow_dir(workspace_dir), "artifacts")


def mlflow_env(workspace_dir: str) -> dict[str, str]:
    """The variables that point MLflow in a process at the workspace's store."""
    uri = store_uri(workspace_dir)
    return {"MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri,
            ARTIFACT_ROOT_ENV: artifact_root(workspace_dir)}


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """These environment variables for the duration, then as they were."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def using(workspace_dir: str) -> Iterator[None]:
    """MLflow's process-wide URIs on the workspace's store for the duration (for calls such
    as ``mlflow.pyfunc.load_model("models:/...")`` that take no client), then as before."""
    import mlflow

    uri = ensure_store(workspace_dir)
    uris = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        with _environ(mlflow_env(workspace_dir)):
            yield
    finally:
        mlflow.set_tracking_uri(uris[0])
        mlflow.set_registry_uri(uris[1])


def ensure_store(workspace_dir: str) -> str:
    """Create the workspace's MLflow store if it does not exist yet; its URI."""
    path = db_path(workspace_dir)
    if os.path.exists(path):
        return store_uri(workspace_dir)
    os.makedirs(artifact_root(workspace_dir), exist_ok=True)
    template = _template()
    fd, tmp = tempfile.mkstemp(dir=mlflow_dir(workspace_dir), suffix=".db-new")
    os.close(fd)
    shutil.copyfile(template, tmp)
    with sqlite3.connect(tmp) as con:  # the Default experiment's artifacts live here too
        con.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
                    (os.path.join(artifact_root(workspace_dir), "0"),))
    con.close()
    try:
        os.link(tmp, path)  # first one wins; a concurrent creator keeps the winner's store
    except FileExistsError:
        pass
    os.remove(tmp)
    return store_uri(workspace_dir)


def client(workspace_dir: str) -> Any:
    """An ``mlflow.MlflowClient`` on the workspace's tracking store and registry."""
    ensure_store(workspace_dir)
    from mlflow import MlflowClient

    uri = store_uri(workspace_dir)
    # MLflow reads the default artifact root when the client makes its store: this
    # workspace's, even in a process that opens several (promotion, tests)
    root = _SERVED if _served else artifact_root(workspace_dir)
    with _environ({ARTIFACT_ROOT_ENV: root}):
        return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _template() -> str:
    """An empty MLflow database at the installed MLflow's schema, made once per version."""
    from importlib.metadata import version

    from kiln.settings import Settings

    cache = Settings.from_env().cache_dir
    try:
        os.makedirs(cache, exist_ok=True)
    except OSError:  # no writable home: a per-user temporary cache
        cache = os.path.join(tempfile.gettempdir(), f"kiln-cache-{os.getuid()}")
        os.makedirs(cache, exist_ok=True)
    path = os.path.join(cache, f"mlflow-{version('mlflow-skinny')}.db")
    if os.path.exists(path):
        return path
    fd, tmp = tempfile.mkstemp(dir=cache, suffix=".db-new")
    os.close(fd)
    os.remove(tmp)
    import logging

    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{tmp}", os.path.join(cache, "unused-artifacts"))
    store.engine.dispose()
    os.replace(tmp, path)
    return path


DATABRICKS_URIS = ("databricks", "databricks-uc")


def map_databricks_uris(mlflow: Any, uri: str) -> None:
    """Make ``mlflow.set_tracking_uri("databricks")`` and ``set_registry_uri(
    "databricks-uc")``, which Databricks notebooks call, mean ``uri``: the workspace's own
    stores, or the kiln server that serves them (called on the ``mlflow`` module right
    after task code imports it)."""

    def mapped(setter: Any) -> Any:
        def set_uri(value: Any) -> Any:
            text = str(value) if value is not None else value
            if text is not None and (text in DATABRICKS_URIS or
                                     text.startswith(("databricks://", "databricks-uc://"))):
                value = uri
            return setter(value)
        set_uri.__doc__ = setter.__doc__
        return set_uri

    from mlflow.tracking import _model_registry, _tracking_service

    for module in (mlflow, mlflow.tracking, _tracking_service.utils):
        if hasattr(module, "set_tracking_uri"):
            module.set_tracking_uri = mapped(_tracking_service.utils.set_tracking_uri)
    for module in (mlflow, mlflow.tracking, _model_registry.utils):
        if hasattr(module, "set_registry_uri"):
            module.set_registry_uri = mapped(_model_registry.utils.set_registry_uri)
