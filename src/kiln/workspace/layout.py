"""Where each part of an embedded workspace lives in its directory: the one place that
knows the layout. Pure, stdlib only (task processes use it).

    metadata.db     the metadata (SQLite; or database.url naming a PostgreSQL database)
    fs/             workspace files: /Workspace/Users/... lives at fs/Workspace/Users/...
    volumes/        Unity Catalog volumes: /Volumes/<cat>/<sch>/<vol>/...
    catalog/        managed Delta tables: catalog/<cat>/<sch>/<table>
    mlflow/         the workspace's MLflow: its store (mlflow.db) and artifact root
    runs/<id>/      a job run's task logs and outputs
    compute/        the Spark compute (one per user under compute/users/ where grants hold)
    serving/        the servers' logs
    online/         the online feature store
"""

from __future__ import annotations

import os


def files_dir(directory: str) -> str:
    return os.path.join(directory, "fs")


def volumes_dir(directory: str) -> str:
    return os.path.join(directory, "volumes")


def catalog_dir(directory: str) -> str:
    return os.path.join(directory, "catalog")


def mlflow_dir(directory: str) -> str:
    return os.path.join(directory, "mlflow")


def run_dir(directory: str, run_id: int) -> str:
    return os.path.join(directory, "runs", str(run_id))


def compute_dir(directory: str) -> str:
    return os.path.join(directory, "compute")


def serving_dir(directory: str) -> str:
    return os.path.join(directory, "serving")


def online_dir(directory: str) -> str:
    return os.path.join(directory, "online")
