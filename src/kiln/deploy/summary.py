"""What ``bundle summary`` adds once a bundle is deployed: ids, URLs, modified status."""

from __future__ import annotations

from typing import Any

from kiln.deploy.deployer import deployed_objects, state_id
from kiln.deploy.plan import make_plan
from kiln.deploy.resources import desired_resources
from kiln.workspace import DeployTarget

_STATUS = {"create": "created", "update": "updated", "recreate": "updated", "delete": "deleted"}


def annotate_deployment(tree: dict[str, Any], ws: DeployTarget) -> None:
    """Add ``id``, ``url`` and ``modified_status`` to the resources of a plain tree."""
    actual = deployed_objects(ws, state_id(tree))
    plan = make_plan(desired_resources(tree), actual)
    resources = tree.setdefault("resources", {})
    for action in plan.actions:
        group = resources.setdefault(action.rtype, {})
        entry = group.setdefault(action.key, {})
        info = actual.get(action.address)
        if info is not None:
            entry["id"] = info.id
            entry["url"] = ws.url(info.kind, info.id)
            if action.op == "delete":
                entry.setdefault("name", info.name)
        status = _STATUS.get(action.op)
        if status:
            entry["modified_status"] = status
