"""Unity Catalog privileges: who may do what to catalogs, schemas, tables, volumes and
functions (registered models are functions, as in Unity Catalog's grants API).

A privilege granted on a catalog holds for everything in it, one on a schema for
everything in the schema. An object's owner (who created it) holds every privilege on it,
and so on what it contains. Using anything in a schema also needs ``USE_CATALOG`` on its
catalog and ``USE_SCHEMA`` on the schema, as on Databricks. Workspace admins pass every
check; while the workspace has no admins, privileges are not enforced (``kiln.identity``).
Grants name users, groups and service principals; a grant to a group holds for its
members, and ``users`` is everyone.
"""

from __future__ import annotations

from typing import Any

from kiln.errors import KilnError, NotFound, PermissionDenied
from kiln.identity import BUILTIN_GROUPS, Identities
from kiln.workspace import Workspace

_CONTAINER = ("ALL_PRIVILEGES", "USE_SCHEMA", "SELECT", "MODIFY", "CREATE_TABLE",
              "CREATE_VOLUME", "CREATE_FUNCTION", "CREATE_MODEL", "EXECUTE", "READ_VOLUME",
              "WRITE_VOLUME", "MANAGE", "BROWSE", "APPLY_TAG")
PRIVILEGES: dict[str, tuple[str, ...]] = {
    "catalog": ("USE_CATALOG", "CREATE_SCHEMA", *_CONTAINER),
    "schema": _CONTAINER,
    "table": ("ALL_PRIVILEGES", "SELECT", "MODIFY", "MANAGE", "APPLY_TAG"),
    "volume": ("ALL_PRIVILEGES", "READ_VOLUME", "WRITE_VOLUME", "MANAGE", "APPLY_TAG"),
    "function": ("ALL_PRIVILEGES", "EXECUTE", "MANAGE", "APPLY_TAG"),
}
# where the workspace keeps each securable (its owner is the object's creator)
_KINDS = {"catalog": ("catalogs",), "schema": ("schemas",), "table": ("tables",),
          "volume": ("volumes",), "function": ("functions", "registered_models")}
_ALIASES = {"registered_model": "function", "model": "function"}
_TITLES = {"catalog": "Catalog", "schema": "Schema", "table": "Table", "volume": "Volume",
           "function": "Function"}
# ALL_PRIVILEGES covers every privilege but MANAGE (as on Databricks)
_NOT_IN_ALL = ("MANAGE",)


def securable_type(name: str) -> str:
    """The securable type of a REST path segment (``TABLE``, ``table``, ``registered_model``)."""
    kind = _ALIASES.get(name.lower(), name.lower())
    if kind not in PRIVILEGES:
        raise KilnError(f"unknown securable type {name!r}: one of "
                        f"{', '.join(sorted(PRIVILEGES))}")
    return kind


def _chain(kind: str, full_name: str) -> list[tuple[str, str]]:
    """The securable and the containers it inherits from, nearest first."""
    parts = full_name.lower().split(".")
    out = [(kind, full_name.lower())]
    if kind != "catalog" and len(parts) == 3:
        out.append(("schema", ".".join(parts[:2])))
    if kind != "catalog":
        out.append(("catalog", parts[0]))
    return out


class Grants:
    """The privileges of the workspace's current user, and the grants themselves."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.ids = Identities(ws)
        self._admin: bool | None = None

    # checks ------------------------------------------------------------------------
    def is_admin(self) -> bool:
        """An admin, or anyone while the workspace has no admins (nothing is enforced)."""
        if self._admin is None:
            self._admin = self.ids.acts_as_admin()
        return self._admin

    def owner(self, kind: str, full_name: str) -> str | None:
        for stored in _KINDS[kind]:
            try:
                return self.ws.get(stored, full_name.lower()).creator or None
            except NotFound:
                continue
        return None

    def has(self, kind: str, full_name: str, privilege: str) -> bool:
        """Whether the current user holds ``privilege`` on the securable (granted there or
        on a container, to them or a group of theirs, or as an owner)."""
        if self.is_admin():
            return True
        chain = _chain(kind, full_name)
        if privilege in ("USE_CATALOG", "USE_SCHEMA"):  # not inherited from a child's owner
            chain = [c for c in chain if c[0] == ("catalog" if privilege == "USE_CATALOG"
                                                  else "schema")] or chain
        user, mine = self.ws.current_user(), self.ids.principals_of()
        if any(self.owner(k, n) == user for k, n in chain):
            return True
        wanted = {privilege} if privilege in _NOT_IN_ALL else {privilege, "ALL_PRIVILEGES"}
        return any(p in mine and priv in wanted for _k, _n, p, priv in self.ws.grants_on(chain))

    def require(self, kind: str, full_name: str, privilege: str) -> None:
        if not self.has(kind, full_name, privilege):
            raise PermissionDenied(
                f"User {self.ws.current_user()} does not have {privilege.replace('_', ' ')} "
                f"on {_TITLES[kind]} '{full_name.lower()}'.")

    def require_use(self, full_name: str) -> None:
        """USE_CATALOG on the catalog of ``full_name``, and USE_SCHEMA on its schema."""
        parts = full_name.lower().split(".")
        self.require("catalog", parts[0], "USE_CATALOG")
        if len(parts) >= 2:
            self.require("schema", ".".join(parts[:2]), "USE_SCHEMA")

    def may_use(self, full_name: str) -> bool:
        try:
            self.require_use(full_name)
            return True
        except PermissionDenied:
            return False

    def require_on(self, kind: str, full_name: str, privilege: str) -> None:
        """What using an object takes: USE_CATALOG and USE_SCHEMA above it, ``privilege``
        on it."""
        if kind == "catalog":
            self.require(kind, full_name, privilege)
            return
        self.require_use(full_name)
        self.require(kind, full_name, privilege)

    def may(self, kind: str, full_name: str, *privileges: str) -> bool:
        """Whether the user may use the object with any of ``privileges``."""
        if self.is_admin():
            return True
        return self.may_use(full_name) and any(self.has(kind, full_name, p)
                                               for p in privileges)

    def require_manage(self, kind: str, full_name: str) -> None:
        """Changing grants, dropping: an admin, an owner (here or above) or MANAGE."""
        user = self.ws.current_user()
        if self.is_admin() or any(self.owner(k, n) == user for k, n in _chain(kind, full_name)):
            return
        self.require(kind, full_name, "MANAGE")

    # the grants --------------------------------------------------------------------
    def get(self, kind: str, full_name: str, principal: str | None = None
            ) -> list[dict[str, Any]]:
        """The grants made on the securable itself (Unity Catalog's ``permissions``)."""
        by: dict[str, list[str]] = {}
        for _k, _n, p, priv in self.ws.grants_on([(kind, full_name.lower())]):
            if principal is None or p == principal:
                by.setdefault(p, []).append(priv)
        return [{"principal": p, "privileges": sorted(v)} for p, v in sorted(by.items())]

    def effective(self, kind: str, full_name: str, principal: str | None = None
                  ) -> list[dict[str, Any]]:
        """Grants on the securable and those it inherits, each with where it comes from."""
        by: dict[str, list[dict[str, str]]] = {}
        own = (kind, full_name.lower())
        for k, n, p, priv in self.ws.grants_on(_chain(kind, full_name)):
            if principal is not None and p != principal:
                continue
            entry = {"privilege": priv}
            if (k, n) != own:
                entry.update(inherited_from_type=k.upper(), inherited_from_name=n)
            by.setdefault(p, []).append(entry)
        return [{"principal": p, "privileges": v} for p, v in sorted(by.items())]

    def update(self, kind: str, full_name: str, changes: list[dict[str, Any]]
               ) -> list[dict[str, Any]]:
        """Apply ``[{principal, add: [...], remove: [...]}]``; every change is checked
        before any is made."""
        full_name = full_name.lower()
        self._require_exists(kind, full_name)
        self.require_manage(kind, full_name)
        known = {p["name"] for p in self.ws.principals()} | set(BUILTIN_GROUPS) | {"admins"}
        allowed = PRIVILEGES[kind]
        plan = []
        for change in changes:
            if not isinstance(change, dict) or not change.get("principal"):
                raise KilnError("each change needs a principal")
            principal = str(change["principal"])
            if principal not in known:
                raise NotFound(f"Could not find principal with name {principal}.")
            add = [str(p).upper() for p in change.get("add") or []]
            remove = [str(p).upper() for p in change.get("remove") or []]
            for priv in add + remove:
                if priv not in allowed:
                    raise KilnError(f"Privilege {priv} is not applicable to this entity "
                                    f"({_TITLES[kind]} '{full_name}'): one of "
                                    f"{', '.join(allowed)}")
            plan.append((principal, add, remove))
        for principal, add, remove in plan:
            self.ws.change_grants(kind, full_name, principal, add, remove)
            self.ws.audit("grants.update", f"{kind}:{full_name}",
                          {"principal": principal, "add": add, "remove": remove})
        return self.get(kind, full_name)

    def _require_exists(self, kind: str, full_name: str) -> None:
        if kind == "catalog":
            from kiln.catalog.tables import Catalog  # catalogs exist through their schemas

            if full_name in Catalog(self.ws).catalog_names(check=False):
                return
        elif self.owner(kind, full_name) is not None or self._exists(kind, full_name):
            return
        raise NotFound(f"{_TITLES[kind]} '{full_name}' does not exist.")

    def _exists(self, kind: str, full_name: str) -> bool:
        for stored in _KINDS[kind]:
            try:
                self.ws.get(stored, full_name)
                return True
            except NotFound:
                continue
        if kind != "function":
            return False
        from kiln.models.registry import Registry  # models logged by tasks, not deployed

        return any(m.name == full_name for m in Registry(self.ws).models(check=False))
