"""Approvals of model versions: requested, then approved or rejected, with comments.

The state lives on the model version as tags (so a promoted copy carries its approval
into the next workspace), the history too, and every step goes to the audit log.
"""

from __future__ import annotations

import json
import time
from typing import Any

from kiln.errors import KilnError
from kiln.models.registry import Registry

STATUS = "kiln.approval.status"  # pending | approved | rejected
HISTORY = "kiln.approval.history"  # JSON list of {action, user, at, comment}


def status(mv: Any) -> str | None:
    return (mv.tags or {}).get(STATUS)


def history(mv: Any) -> list[dict[str, Any]]:
    try:
        return list(json.loads((mv.tags or {}).get(HISTORY) or "[]"))
    except ValueError:
        return []


def request(reg: Registry, name: str, version: int | str, comment: str = "") -> Any:
    mv = reg.version(name, version)
    if status(mv) == "pending":
        raise KilnError(f"version {mv.version} of {mv.name} already has a pending approval "
                        "request")
    if status(mv) == "approved":
        raise KilnError(f"version {mv.version} of {mv.name} is already approved")
    return _step(reg, mv, "requested", "pending", comment)


def decide(reg: Registry, name: str, version: int | str, approve: bool,
           comment: str = "") -> Any:
    mv = reg.version(name, version)
    if status(mv) != "pending":
        raise KilnError(f"version {mv.version} of {mv.name} has no pending approval request "
                        f"(status: {status(mv) or 'none'})",
                        detail=f"Request one first: kiln models request-approval {mv.name} "
                               f"--version {mv.version}")
    if not approve and not comment:
        raise KilnError("a rejection needs a comment saying why (--comment)")
    return _step(reg, mv, "approved" if approve else "rejected",
                 "approved" if approve else "rejected", comment)


def _step(reg: Registry, mv: Any, action: str, new_status: str, comment: str) -> Any:
    user = reg.ws.current_user()
    entry = {"action": action, "user": user, "at": int(time.time() * 1000),
             "comment": comment}
    with reg.locked(mv.name):
        fresh = reg.version(mv.name, mv.version)
        steps = [*history(fresh), entry]
        reg.set_version_tags(mv.name, mv.version, {
            STATUS: new_status, HISTORY: json.dumps(steps),
            f"kiln.approval.{action}_by": user})
    reg.ws.audit(f"models.approval.{action}", mv.name,
                 {"version": str(mv.version), "comment": comment})
    return reg.version(mv.name, mv.version)
