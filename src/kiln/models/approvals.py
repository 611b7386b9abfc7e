"""Approvals of model versions: requested, then approved or rejected, with comments.

The state lives on the model version as tags (so a promoted copy carries its approval
into the next workspace), the history too, and every step goes to the audit log.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from kiln.errors import KilnError
from kiln.models.registry import APPROVAL_STATUS as STATUS, Registry, approval_status

REPORT_TAG = "kiln.replay.report"  # a shadow replay's report (JSON) on the model version
HISTORY = "kiln.approval.history"  # JSON list of {action, user, at, comment}


status = approval_status  # pending | approved | rejected | None


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
    replay_rule = rule(reg.ws)
    if approve and replay_rule is not None:
        replay_rule.check(recorded(mv), f"version {mv.version} of {mv.name}")
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


@dataclass(frozen=True)
class ReplayRule:
    """The workspace's replay rule: an approval needs a replay with ``agreement >=
    min_agreement``, or with labels that show the candidate's quality not worse than what
    was served."""
    min_agreement: float

    def check(self, report: dict[str, Any] | None, what: str) -> None:
        if report is None:
            raise KilnError(f"{what} has no replay, and this workspace's approval rule needs "
                            f"one (agreement >= {self.min_agreement:g} or quality not worse)",
                            detail="Run 'kiln models replay NAME --version V --endpoint E'.")
        agreement = report["agreement"]
        if agreement >= self.min_agreement:
            return
        quality = report.get("quality") or {}
        if quality.get("labelled_rows") and quality.get("not_worse"):
            return
        worst = report.get("worst_slices") or []
        where = (f"; it disagrees most where {worst[0]['column']} = {worst[0]['value']} "
                 f"(agreement {worst[0]['agreement']:.2f} over {worst[0]['rows']} rows)"
                 if worst else "")
        raise KilnError(
            f"{what}: replay agreement {agreement:.3f} is below the approval rule's "
            f"{self.min_agreement:g}, and "
            + ("its quality is worse than what was served" if quality.get("labelled_rows")
               else "no labels show its quality is not worse") + where)


def rule(ws: Any) -> ReplayRule | None:
    agreement = ws.model_policy()["replay_min_agreement"]
    return ReplayRule(min_agreement=agreement) if agreement is not None else None


def set_rule(ws: Any, min_agreement: float | None) -> None:
    if min_agreement is not None and not 0 <= min_agreement <= 1:
        raise KilnError(f"the replay agreement must be between 0 and 1, got {min_agreement}")
    ws.put_model_policy(replay_min_agreement=min_agreement)
    ws.audit("models.policy", ws.name, {"replay_min_agreement": min_agreement})


def recorded(mv: Any) -> dict[str, Any] | None:
    """The version's latest replay report, if it has one."""
    raw = (mv.tags or {}).get(REPORT_TAG)
    return json.loads(raw) if raw else None
