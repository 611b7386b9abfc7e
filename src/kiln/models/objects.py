"""The MLflow side of the ``experiments`` and ``registered_models`` a bundle deploys.

A workspace calls these when such an object is created, updated or deleted, before it
records the object, so a deploy interrupted in between finds the MLflow object on its
next attempt and adopts it (an experiment by name, a registered model by full name)
rather than failing on a duplicate.
"""

from __future__ import annotations

from typing import Any

from kiln.models import store

MARKDOWN_NOTE = "mlflow.note.content"  # where the MLflow UI shows an experiment's description


def ensure_experiment(workspace_dir: str, settings: dict[str, Any]) -> str:
    """Create (or adopt, or restore) the experiment; its id."""
    client = store.client(workspace_dir)
    name = str(settings["name"])
    found = client.get_experiment_by_name(name)
    if found is None:
        location = settings.get("artifact_location") or None
        exp_id = str(client.create_experiment(name, artifact_location=location))
    else:
        exp_id = str(found.experiment_id)
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(exp_id)
    _experiment_tags(client, exp_id, settings)
    return exp_id


def update_experiment(workspace_dir: str, exp_id: str, settings: dict[str, Any]) -> None:
    client = store.client(workspace_dir)
    current = client.get_experiment(exp_id)
    if current.name != settings["name"]:
        client.rename_experiment(exp_id, str(settings["name"]))
    _experiment_tags(client, exp_id, settings)


def delete_experiment(workspace_dir: str, exp_id: str) -> None:
    client = store.client(workspace_dir)
    try:
        client.delete_experiment(exp_id)
    except Exception as e:  # noqa: BLE001 - already gone
        if "does not exist" not in str(e) and "deleted" not in str(e):
            raise


def ensure_registered_model(workspace_dir: str, full_name: str,
                            settings: dict[str, Any]) -> None:
    client = store.client(workspace_dir)
    description = str(settings.get("comment") or "")
    try:
        current = client.get_registered_model(full_name)
    except Exception:  # noqa: BLE001 - not there yet
        client.create_registered_model(full_name, description=description,
                                       tags={"kiln.deployed": "true"})
        return
    if (current.description or "") != description:
        client.update_registered_model(full_name, description=description)


def delete_registered_model(workspace_dir: str, full_name: str) -> None:
    client = store.client(workspace_dir)
    try:
        client.delete_registered_model(full_name)
    except Exception as e:  # noqa: BLE001 - already gone
        if "not found" not in str(e).lower() and "does not exist" not in str(e):
            raise


def _experiment_tags(client: Any, exp_id: str, settings: dict[str, Any]) -> None:
    for kv in settings.get("tags") or []:
        client.set_experiment_tag(exp_id, str(kv["key"]), str(kv["value"]))
    if settings.get("description"):
        client.set_experiment_tag(exp_id, MARKDOWN_NOTE, str(settings["description"]))

