"""SCIM 2.0 (``/api/2.0/preview/scim/v2/...``) in Databricks' shapes: the current user
(``Me``), users, groups (with members) and service principals, from ``kiln.identity``.
A principal's SCIM ``id`` is its name (a user's email, a group's name, a service
principal's application id)."""

from __future__ import annotations

from typing import Any, Callable

from kiln.errors import KilnError
from kiln.identity import ADMINS, Identities
from kiln.server.http import Request, Router

SCIM = "/api/2.0/preview/scim/v2"
ID = r"/(?P<id>[^/]+)"
_SCHEMAS = {"USER": "urn:ietf:params:scim:schemas:core:2.0:User",
            "GROUP": "urn:ietf:params:scim:schemas:core:2.0:Group",
            "SERVICE_PRINCIPAL": "urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"}
_PATHS = {"Users": "USER", "Groups": "GROUP", "ServicePrincipals": "SERVICE_PRINCIPAL"}


def add_routes(r: Router, ids_of: Callable[[Request], Identities]) -> None:
    def doc(p: dict[str, Any], ids: Identities) -> dict[str, Any]:
        kind, name = p["kind"], p["name"]
        out: dict[str, Any] = {"id": name, "displayName": p.get("display_name") or name,
                               "active": p.get("active", True), "schemas": [_SCHEMAS[kind]]}
        if kind == "USER":
            out.update(userName=name, emails=[{"value": name, "primary": True}])
        if kind == "SERVICE_PRINCIPAL":
            out["applicationId"] = name
        if kind == "GROUP":
            out["members"] = [{"value": m, "display": m}
                              for m in ids.ws.group_members(name)]
        else:
            out["groups"] = [{"value": g, "display": g} for g in ids.ws.groups_of(name)]
        return out

    def listing(kind: str) -> Callable[[Request], dict[str, Any]]:
        def handler(req: Request) -> dict[str, Any]:
            ids = ids_of(req)
            found = [doc(p, ids) for p in ids.list(kind)]
            if kind == "GROUP" and not any(d["id"] == ADMINS for d in found):
                found.insert(0, doc({"name": ADMINS, "kind": "GROUP"}, ids))
            start = max(1, req.arg("startIndex", 1, int))
            count = req.arg("count", len(found), int)
            page = found[start - 1:start - 1 + count]
            return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                    "totalResults": len(found), "startIndex": start,
                    "itemsPerPage": len(page), "Resources": page}
        return handler

    def create(kind: str) -> Callable[[Request], dict[str, Any]]:
        def handler(req: Request) -> dict[str, Any]:
            ids = ids_of(req)
            if kind == "USER":
                name = req.required("userName")
            elif kind == "GROUP":
                name = req.required("displayName")
            else:
                name = req.arg("applicationId") or req.required("displayName")
            ids.add(name, kind, req.arg("displayName"))
            for m in req.arg("members", [], list) if kind == "GROUP" else []:
                ids.set_membership(name, _member(m), True)
            return doc(ids.get(name), ids)
        return handler

    def get(kind: str) -> Callable[[Request], dict[str, Any]]:
        def handler(req: Request) -> dict[str, Any]:
            ids = ids_of(req)
            if kind == "GROUP" and req.params["id"] == ADMINS:
                return doc({"name": ADMINS, "kind": "GROUP"}, ids)
            found = ids.get(req.params["id"])
            if found["kind"] != kind:
                from kiln.errors import NotFound

                raise NotFound(f"{kind.lower()} {req.params['id']} does not exist")
            return doc(found, ids)
        return handler

    def patch_group(req: Request) -> dict[str, Any]:
        ids, group = ids_of(req), req.params["id"]
        for op in req.arg("Operations", [], list):
            if not isinstance(op, dict) or op.get("op", "").lower() not in ("add", "remove"):
                raise KilnError("each operation needs op add or remove")
            present = op["op"].lower() == "add"
            path = str(op.get("path") or "members")
            values = op.get("value") or []
            if path.startswith("members[value eq "):  # remove members[value eq "id"]
                values = [{"value": path.split('"')[1]}]
            elif path != "members":
                raise KilnError(f"only members can be changed, not {path}")
            for v in values if isinstance(values, list) else [values]:
                ids.set_membership(group, _member(v), present)
        return get("GROUP")(req)

    def me(req: Request) -> dict[str, Any]:
        ids = ids_of(req)
        mine = next((p for p in ids.list("USER") if p["name"] == req.user),
                    {"name": req.user, "kind": "USER"})
        return doc(mine, ids)

    r.add("GET", f"{SCIM}/Me", me)
    for path, kind in _PATHS.items():
        r.add("GET", f"{SCIM}/{path}", listing(kind))
        r.add("POST", f"{SCIM}/{path}", create(kind))
        r.add("GET", f"{SCIM}/{path}{ID}", get(kind))
        r.add("DELETE", f"{SCIM}/{path}{ID}", lambda req: ids_of(req).delete(req.params["id"]))
    r.add("PATCH", f"{SCIM}/Groups{ID}", patch_group)


def _member(v: Any) -> str:
    if not isinstance(v, dict) or not v.get("value"):
        raise KilnError('each member is {"value": "<id>"}')
    return str(v["value"])
