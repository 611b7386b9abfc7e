"""Who is who in a workspace: users, groups and service principals, and who is an admin.

Every user belongs to the group ``users`` (and ``account users``), as on Databricks. The
members of the group ``admins`` (directly or through a group) are the workspace's
admins: they pass every permission check and manage identities.

While ``admins`` has no members the workspace is unmanaged: a workspace on one laptop has
one user, so Unity Catalog privileges are not enforced and anyone may manage identities
until someone is made admin (``kiln groups add-member admins <user>``). Object ACLs (a
job's or endpoint's ``permissions``) hold either way.
"""

from __future__ import annotations

from typing import Any

from kiln.errors import KilnError, NotFound, PermissionDenied
from kiln.workspace import Workspace

ADMINS = "admins"
BUILTIN_GROUPS = ("users", "account users")
KINDS = ("USER", "GROUP", "SERVICE_PRINCIPAL")


class Identities:
    """Who the workspace's current user is, and the identities of the workspace. The
    current user's groups are read once per instance (a service's, for one request)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._mine: set[str] | None = None

    def managed(self) -> bool:
        """Whether the workspace has admins (and so enforces Unity Catalog privileges)."""
        return bool(self.ws.group_members(ADMINS))

    def is_admin(self, user: str | None = None) -> bool:
        """A member of ``admins``, directly or through a group."""
        return ADMINS in self.principals_of(user)

    def acts_as_admin(self) -> bool:
        """The current user is an admin, or the workspace has none (it is unmanaged)."""
        return not self.managed() or self.is_admin()

    def principals_of(self, user: str | None = None) -> set[str]:
        """The names a grant may name to reach ``user`` (the current user's by default):
        theirs, their groups' (and the groups those are in), and the built-in groups."""
        if user is None or user == self.ws.current_user():
            if self._mine is None:
                self._mine = self._walk(self.ws.current_user())
            return self._mine
        return self._walk(user)

    def _walk(self, user: str) -> set[str]:
        out, todo = {user, *BUILTIN_GROUPS}, [user]
        while todo:
            for g in self.ws.groups_of(todo.pop()):
                if g not in out:
                    out.add(g)
                    todo.append(g)
        return out

    def require_admin(self, what: str) -> None:
        """Only admins, once the workspace has any."""
        if not self.acts_as_admin():
            raise PermissionDenied(f"only workspace admins may {what} "
                                   f"({self.ws.current_user()} is not in {ADMINS})")

    def add(self, name: str, kind: str, display_name: str | None = None) -> None:
        if kind not in KINDS:
            raise KilnError(f"unknown principal kind {kind!r}: one of {', '.join(KINDS)}")
        if not name or name in BUILTIN_GROUPS:
            raise KilnError(f"{name!r} cannot be the name of a new principal")
        self.require_admin(f"add {kind.lower().replace('_', ' ')}s")
        self.ws.add_principal(name, kind, display_name)
        self.ws.audit("principals.create", name, {"kind": kind})

    def delete(self, name: str) -> None:
        self.require_admin("delete principals")
        self.ws.delete_principal(name)
        self.ws.audit("principals.delete", name)

    def get(self, name: str) -> dict[str, Any]:
        found = next((p for p in self.ws.principals() if p["name"] == name), None)
        if found is None:
            raise NotFound(f"principal {name} does not exist")
        if found["kind"] == "GROUP":
            found = {**found, "members": self.ws.group_members(name)}
        else:
            found = {**found, "groups": self.ws.groups_of(name)}
        return found

    def list(self, kind: str | None = None) -> list[dict[str, Any]]:
        return self.ws.principals(kind)

    def set_membership(self, group: str, member: str, present: bool) -> None:
        """Add ``member`` (a user, service principal or group) to ``group``, or remove it.
        The group ``admins`` exists without being created."""
        kinds = {p["name"]: p["kind"] for p in self.ws.principals()}
        if group != ADMINS and kinds.get(group) != "GROUP":
            raise NotFound(f"group {group} does not exist")
        if present and member not in kinds:
            raise NotFound(f"principal {member} does not exist",
                           detail="Add it first: kiln users create / kiln groups create / "
                                  "kiln service-principals create.")
        if present and member == group:
            raise KilnError(f"group {group} cannot be a member of itself")
        self.require_admin(f"change the members of {group}")  # while none: everyone may
        self.ws.set_membership(group, member, present)
        self._mine = None  # the current user's groups may have changed
        self.ws.audit("groups.add_member" if present else "groups.remove_member", group,
                      {"member": member})

    # personal access tokens --------------------------------------------------------
    def create_token(self, comment: str = "", lifetime_s: int | None = None,
                     user: str | None = None) -> dict[str, Any]:
        """A token of ``user`` (the current user's unless an admin names another): its
        value is in the answer once and only its hash is kept."""
        me = self.ws.current_user()
        user = user or me
        if user != me:
            self.require_admin("create tokens for other users")
        if lifetime_s is not None and lifetime_s <= 0:
            raise KilnError(f"lifetime_seconds must be positive, not {lifetime_s}")
        token_id, value = self.ws.create_token(user, comment, lifetime_s)
        info = next(t for t in self.ws.list_tokens() if t["token_id"] == token_id)
        return {"token_value": value, "token_info": info}

    def tokens(self, everyone: bool = False) -> list[dict[str, Any]]:
        """The current user's tokens (every user's for an admin who asks)."""
        mine = self.ws.current_user()
        if everyone:
            self.require_admin("list every user's tokens")
        return [t for t in self.ws.list_tokens() if everyone or t["created_by"] == mine]

    def revoke_token(self, token_id: str) -> None:
        """Revoke one of the current user's tokens (an admin: anyone's)."""
        found = next((t for t in self.ws.list_tokens() if t["token_id"] == token_id), None)
        if found is None or not (found["created_by"] == self.ws.current_user()
                                 or self.acts_as_admin()):
            raise NotFound(f"token {token_id} does not exist")
        self.ws.delete_token(token_id)
