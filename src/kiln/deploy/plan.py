"""The plan: what a deploy will create, update, recreate or delete, and why.

Pure: desired resources and what the workspace holds in, typed actions out. Drift (an
object changed or deleted outside the bundle) shows as an update or a create, since the
comparison is with the workspace's current object, not with what was last deployed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from kiln.deploy import refs
from kiln.deploy.resources import IMMUTABLE, ORDER, Desired
from kiln.workspace import ObjectInfo

Op = Literal["create", "update", "recreate", "delete", "skip"]


@dataclass(frozen=True)
class Action:
    op: Op
    address: str  # jobs.train
    id: str | None = None  # the existing object, for update/recreate/delete/skip
    reason: str = ""

    @property
    def rtype(self) -> str:
        return self.address.split(".", 1)[0]

    @property
    def key(self) -> str:
        return self.address.split(".", 1)[1]

    @property
    def destructive(self) -> bool:
        return self.op in ("delete", "recreate")


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    order: tuple[str, ...] = field(default=())  # creation/update order of addresses

    def count(self, *ops: Op) -> int:
        return sum(1 for a in self.actions if a.op in ops)

    def changes(self) -> list[Action]:
        return [a for a in self.actions if a.op != "skip"]

    def destructive(self) -> list[Action]:
        return [a for a in self.actions if a.destructive]

    def summary(self) -> str:
        return (f"Plan: {self.count('create', 'recreate')} to add, {self.count('update')} to "
                f"change, {self.count('delete', 'recreate')} to delete, "
                f"{self.count('skip')} unchanged")

    def to_json(self) -> dict[str, Any]:
        return {"plan": {a.address: {"action": a.op, **({"id": a.id} if a.id else {}),
                                     **({"reason": a.reason} if a.reason else {})}
                         for a in self.actions}}


def make_plan(desired: dict[str, Desired], actual: dict[str, ObjectInfo]) -> Plan:
    order = creation_order(desired)
    deployed_after = dict(actual)
    actions: list[Action] = []
    for address in order:
        d = desired[address]
        cur = actual.get(address)
        try:
            want = refs.resolve(d.settings, deployed_after)
        except Exception:  # noqa: BLE001 - refers to something not created yet
            want = None
        if cur is None:
            actions.append(Action("create", address))
            continue
        if want is not None and _immutable_changed(d.rtype, cur.settings, want):
            actions.append(Action("recreate", address, cur.id,
                                  "changed " + ", ".join(_changed_fields(d.rtype, cur.settings, want))))
        elif want is None or want != cur.settings or d.name(want) != cur.name:
            actions.append(Action("update", address, cur.id, _diff_reason(cur.settings, want)))
        else:
            actions.append(Action("skip", address, cur.id))
    for address in sorted(set(actual) - set(desired), key=_reverse_rank):
        actions.append(Action("delete", address, actual[address].id))
    return Plan(tuple(actions), tuple(order))


def creation_order(desired: dict[str, Desired]) -> list[str]:
    """By type rank, then so that a resource comes after the resources it refers to."""
    rank = {t: i for i, t in enumerate(ORDER)}
    deps = {a: {r for r in refs.references(d.settings) if r in desired and r != a}
            for a, d in desired.items()}
    done: list[str] = []
    seen: set[str] = set()
    visiting: set[str] = set()

    def visit(a: str) -> None:
        if a in seen:
            return
        if a in visiting:  # a reference cycle: creation order cannot satisfy it
            return
        visiting.add(a)
        for dep in sorted(deps[a], key=lambda x: (rank.get(x.split(".")[0], 99), x)):
            visit(dep)
        visiting.discard(a)
        seen.add(a)
        done.append(a)

    for a in sorted(desired, key=lambda x: (rank.get(x.split(".")[0], 99), x)):
        visit(a)
    return done


def _reverse_rank(address: str) -> tuple[int, str]:
    rank = {t: i for i, t in enumerate(ORDER)}
    return (-rank.get(address.split(".")[0], 99), address)


def _immutable_changed(rtype: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
    return bool(_changed_fields(rtype, old, new))


def _changed_fields(rtype: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [f for f in IMMUTABLE.get(rtype, ()) if old.get(f) != new.get(f)]


def _diff_reason(old: dict[str, Any], new: dict[str, Any] | None) -> str:
    if new is None:
        return "refers to a resource created in this deploy"
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return "changed " + ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else "") if keys else ""
