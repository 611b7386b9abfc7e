"""MLflow's ``mlflow-artifacts:`` URIs, wherever kiln is installed.

``kiln server`` serves MLflow artifacts itself: an experiment made through it keeps its
artifacts at ``mlflow-artifacts:/<experiment>/...``, so that an MLflow client on another
machine uploads and downloads them over HTTP (the server keeps them in the workspace's
artifact root). A process that reads the workspace's store directly (serving endpoints,
promotion, task code, ``kiln env`` sessions) resolves the same URIs to that root on disk.
MLflow finds this factory through its ``mlflow.artifact_repository`` entry point.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse


def local_root(tracking_uri: str) -> str | None:
    """The artifact root of the kiln workspace whose store ``tracking_uri`` is, if any."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    db = tracking_uri[len("sqlite:///"):]
    mlflow_dir = os.path.dirname(db)
    if os.path.basename(db) != "mlflow.db" or os.path.basename(mlflow_dir) != "mlflow":
        return None
    return os.path.join(mlflow_dir, "artifacts")


def on_disk(uri: str, workspace_dir: str) -> str:
    """Where an artifact URI of the workspace's store lies on this machine: a path, a
    ``file://`` URL, or ``mlflow-artifacts:/...`` (in the workspace's artifact root)."""
    if uri.startswith("file://"):
        return uri[len("file://"):]
    if uri.startswith("mlflow-artifacts:"):
        from kiln.models.store import artifact_root

        return os.path.join(artifact_root(workspace_dir), urlparse(uri).path.lstrip("/"))
    return uri


def repository(artifact_uri: str, tracking_uri: str | None = None,
               registry_uri: str | None = None) -> Any:
    """The artifacts at ``artifact_uri``: on disk for a kiln workspace's own store, else
    through the MLflow server the tracking URI names, as MLflow resolves them."""
    import mlflow
    from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository
    from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

    root = local_root(tracking_uri or mlflow.get_tracking_uri())
    if root is None:
        return MlflowArtifactsRepository(artifact_uri, tracking_uri=tracking_uri,
                                         registry_uri=registry_uri)
    path = urlparse(artifact_uri).path.lstrip("/")
    return LocalArtifactRepository(os.path.join(root, path))
