"""Access control lists of workspace objects (jobs, serving endpoints), as Databricks'
permissions API and bundles' ``permissions`` write them.

An object's ACL is a list of ``{"level": ..., "user_name" | "group_name" |
"service_principal_name": ...}`` in its settings (the bundle shape). Its creator and
workspace admins hold the highest level; a grant to a group holds for its members, and
``users`` is everyone. An object without a list is open to every user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kiln.errors import KilnError

if TYPE_CHECKING:
    from kiln.workspace import ObjectInfo, Workspace

PRINCIPAL_KEYS = ("user_name", "group_name", "service_principal_name")


def level(perms: Any, levels: tuple[str, ...], *, creator: str, user: str,
          principals: set[str], admin: bool) -> int:
    """The user's level (an index into ``levels``; -1: none)."""
    if not perms or creator == user or admin:
        return len(levels) - 1
    best = -1
    for p in perms if isinstance(perms, list) else []:
        if not isinstance(p, dict) or p.get("level") not in levels:
            continue
        if any(p.get(k) in principals for k in PRINCIPAL_KEYS):
            best = max(best, levels.index(p["level"]))
    return best


def document(object_type: str, object_id: str, perms: Any, creator: str,
             levels: tuple[str, ...]) -> dict[str, Any]:
    """The permissions API's answer: each principal with its levels (the creator owns)."""
    acl: list[dict[str, Any]] = []
    if creator:
        acl.append({"user_name": creator, "all_permissions": [
            {"permission_level": levels[-1], "inherited": False}]})
    for p in perms if isinstance(perms, list) else []:
        key = next((k for k in PRINCIPAL_KEYS if p.get(k)), None)
        if key is not None:
            acl.append({key: p[key], "all_permissions": [
                {"permission_level": p.get("level"), "inherited": False}]})
    return {"object_id": f"/{object_type}s/{object_id}", "object_type": object_type,
            "access_control_list": acl}


def changed(perms: Any, request: list[Any], levels: tuple[str, ...], *,
            replace: bool) -> list[dict[str, str]]:
    """The ACL after a permissions request (``[{user_name, permission_level}, ...]``):
    the request's entries replace the list (PUT) or those of the same principals
    (PATCH). Every entry is checked first."""
    new: list[dict[str, str]] = []
    for entry in request:
        if not isinstance(entry, dict):
            raise KilnError("each access control entry must be an object")
        keys = [k for k in PRINCIPAL_KEYS if entry.get(k)]
        if len(keys) != 1:
            raise KilnError("each access control entry names one of user_name, group_name "
                            "or service_principal_name")
        lvl = entry.get("permission_level")
        if lvl not in levels:
            raise KilnError(f"permission_level must be one of {', '.join(levels)}, "
                            f"not {lvl!r}")
        new.append({"level": str(lvl), keys[0]: str(entry[keys[0]])})
    if replace:
        return new
    named = {(k, e[k]) for e in new for k in PRINCIPAL_KEYS if k in e}
    kept = [p for p in perms if isinstance(p, dict)
            and not any((k, p.get(k)) in named for k in PRINCIPAL_KEYS)] \
        if isinstance(perms, list) else []
    return kept + new


class ObjectAcl:
    """The ACLs of one kind of workspace object, for the workspace's current user: their
    level on an object, its permissions document, and changes to it (audited)."""

    def __init__(self, ws: Workspace, kind: str, object_type: str, levels: tuple[str, ...],
                 audit_as: str) -> None:
        from kiln.identity import Identities

        self.ws, self.kind, self.object_type, self.levels = ws, kind, object_type, levels
        self.audit_as = audit_as
        self.ids = Identities(ws)

    def level(self, obj: ObjectInfo) -> int:
        """An index into ``levels``; -1: none."""
        return level(obj.settings.get("permissions"), self.levels, creator=obj.creator,
                     user=self.ws.current_user(), principals=self.ids.principals_of(),
                     admin=self.ids.is_admin())

    def document(self, obj: ObjectInfo) -> dict[str, Any]:
        return document(self.object_type, obj.id, obj.settings.get("permissions"),
                        obj.creator, self.levels)

    def change(self, obj: ObjectInfo, entries: list[Any], *, replace: bool) -> None:
        """Replace (PUT) or update (PATCH) the object's list (the caller checked that the
        user may)."""
        perms = changed(obj.settings.get("permissions"), entries, self.levels,
                        replace=replace)
        self.ws.update(self.kind, obj.id, obj.name, {**obj.settings, "permissions": perms})
        self.ws.audit(f"{self.audit_as}.set_permissions", obj.id,
                      {"access_control_list": perms})
