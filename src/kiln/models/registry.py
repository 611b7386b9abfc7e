"""The model registry of one workspace: MLflow's registry, with kiln's rules on top.

MLflow keeps the models, versions, tags and aliases; kiln reads them, and moves aliases
and sets version tags, in MLflow's own tables (``kiln.models.mlflow_db``, no MLflow import)
and goes through MLflow's client for the rest. kiln adds the workspace policy
(which aliases need an approved version), a lock per model so that alias moves made by
concurrent jobs are serialized, and an audit entry for every alias change.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from kiln.catalog.grants import Grants
from kiln.catalog.names import parse_name
from kiln.errors import AlreadyExists, KilnError, NotFound
from kiln.models import store
from kiln.models.mlflow_db import MlflowDb
from kiln.workspace import LockHeld, Workspace

APPROVAL_STATUS = "kiln.approval.status"  # a version's tag: pending | approved | rejected


def approval_status(mv: Any) -> str | None:
    """A model version's approval: pending, approved, rejected, or None (never asked)."""
    return (mv.tags or {}).get(APPROVAL_STATUS)
# in the policy: every alias a serving endpoint follows needs an approved version
SERVING = "serving"
LOCK_WAIT_S = 60.0


def model_name(name: str) -> str:
    """A registered model's name, checked: three parts, ``catalog.schema.model``."""
    try:
        return str(parse_name(name))
    except KilnError as e:
        raise KilnError(f"invalid registered model name {name!r}: {e}",
                        detail="Registered models have three-part names: catalog.schema.model"
                        ) from None


class Registry:
    """Models are Unity Catalog functions to the grants: reading one (its versions and
    aliases) needs EXECUTE on it and USE_CATALOG/USE_SCHEMA above it; moving its aliases
    needs ownership or MANAGE (``kiln.catalog.grants``)."""

    def __init__(self, ws: Workspace) -> None:
        root = ws.local_root()
        if root is None:
            raise KilnError(f"workspace {ws.name} is not on this machine")
        self.ws = ws
        self.root = root
        store.ensure_store(root)
        # reads and alias/tag writes: MLflow's tables, without importing MLflow
        self.db = MlflowDb(store.db_path(root))
        self._client: Any = None
        self.grants = Grants(ws)

    @property
    def client(self) -> Any:
        """MLflow's client on the workspace's store, for what only MLflow does (logging,
        creating versions, artifacts); made when first needed."""
        if self._client is None:
            self._client = store.client(self.root)
        return self._client

    # reading -------------------------------------------------------------------------
    def models(self, check: bool = True) -> list[Any]:
        """The registered models the user may use (all with ``check=False``)."""
        return [m for m in self.db.models()
                if not check or self.grants.may("function", m.name, "EXECUTE")]

    def model(self, name: str) -> Any:
        name = model_name(name)
        with self._errors(f"registered model {name}"):
            found = self.db.model(name)
        self.grants.require_on("function", name, "EXECUTE")
        return found

    def versions(self, name: str) -> list[Any]:
        return self.db.versions(self.model(name).name)

    def versions_of_runs(self, run_ids: list[str]) -> list[Any]:
        """Every version registered from one of these runs (any model's)."""
        return self.db.versions_of_runs(sorted(run_ids))

    def runs_of_task(self, job_run_id: int, task_key: str) -> list[str]:
        """The MLflow runs a job task started (the tags kiln's task runtime sets)."""
        return self.db.runs_tagged({"kiln.job_run_id": str(job_run_id),
                                    "kiln.task_key": task_key})

    def run(self, run_id: str) -> Any:
        """A tracking run (info, metrics, params, tags)."""
        return self.db.run(run_id)

    def version(self, name: str, version: int | str) -> Any:
        """A version by number, or by alias written ``@alias`` (as the CLI's --version
        takes it)."""
        if isinstance(version, str) and version.startswith("@"):
            return self.resolve(name, alias=version[1:])
        name = model_name(name)
        self.model(name)
        with self._errors(f"version {version} of {name}"):
            return self.db.version(name, version)

    def by_alias(self, name: str, alias: str) -> Any | None:
        name = model_name(name)
        self.model(name)
        return self.db.by_alias(name, alias)

    def resolve(self, name: str, version: int | str | None = None,
                alias: str | None = None) -> Any:
        """A version given by number or alias (the latest version when neither is given)."""
        if version is not None:
            return self.version(name, version)
        if alias is not None:
            mv = self.by_alias(name, alias)
            if mv is None:
                raise NotFound(f"{model_name(name)} has no version with alias @{alias}")
            return mv
        versions = self.versions(name)
        if not versions:
            raise KilnError(f"{model_name(name)} has no versions")
        return versions[-1]

    # models (Unity Catalog's registered models API) --------------------------------
    def create_model(self, name: str, comment: str | None = None) -> Any:
        """A new registered model: using its schema and CREATE_MODEL on it; its creator
        owns it (``owned_by_creator``)."""
        name = model_name(name)
        self.grants.require_use(name)
        self.grants.require("schema", name.rsplit(".", 1)[0], "CREATE_MODEL")
        try:  # one insert: of two creators, one wins and the other is told
            self.db.create_model(name, comment or "", {})
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"registered model {name} already exists in workspace "
                                f"{self.ws.name}") from None
        self.owned_by_creator(name)
        self.ws.audit("models.create", name)
        return self.model(name)

    def owned_by_creator(self, name: str) -> None:
        """The record that the current user made the model (MLflow keeps no owner): every
        privilege on it, and MANAGE."""
        self.ws.change_grants("function", model_name(name).lower(), self.ws.current_user(),
                              ["ALL_PRIVILEGES", "MANAGE"], [])

    def update_model(self, name: str, comment: str | None) -> Any:
        name = self.model(name).name
        self.grants.require_manage("function", name)
        self.client.update_registered_model(name, description=comment or "")
        self.ws.audit("models.update", name, {"comment": comment})
        return self.model(name)

    def delete_model(self, name: str) -> None:
        """The model and its versions (their artifacts stay with their runs)."""
        name = self.model(name).name
        self.grants.require_manage("function", name)
        with self.locked(name):
            self.client.delete_registered_model(name)
        self.ws.audit("models.delete", name)

    def delete_version(self, name: str, version: int | str) -> None:
        mv = self.version(name, version)
        self.grants.require_manage("function", mv.name)
        with self.locked(mv.name):
            self.client.delete_model_version(mv.name, str(mv.version))
        self.ws.audit("models.delete_version", mv.name, {"version": str(mv.version)})

    # policy --------------------------------------------------------------------------
    def required_approvals(self) -> set[str]:
        return set(self.ws.model_policy()["require_approval"])

    def needs_approval(self, name: str, alias: str) -> bool:
        """Whether moving ``alias`` needs an approved version: the alias is named in the
        policy, or the policy names ``serving`` and a serving endpoint follows the alias."""
        required = self.required_approvals()
        return alias in required or (SERVING in required
                                     and bool(self.endpoints_following(name, alias)))

    def missing_approval(self, name: str, alias: str, mv: Any) -> str | None:
        """Why ``mv`` may not take ``alias`` of ``name`` in this workspace (its approval
        status, when the policy needs an approved version), or None: the one approval gate,
        for setting an alias here and for promoting a version into this workspace."""
        if not self.needs_approval(name, alias):
            return None
        status = approval_status(mv)
        return None if status == "approved" else status or "not approved"

    def endpoints_following(self, name: str, alias: str) -> list[str]:
        """The serving endpoints whose traffic follows ``name@alias``."""
        name = model_name(name)
        out = []
        for o in self.ws.list("model_serving_endpoints"):
            for e in (o.settings.get("config") or {}).get("served_entities") or []:
                entity = str(e.get("entity_name") or "")
                if entity and model_name(entity) == name and e.get("entity_alias") == alias:
                    out.append(o.name)
        return sorted(set(out))

    def set_required_approvals(self, aliases: set[str]) -> None:
        self.ws.put_model_policy(require_approval=sorted(aliases))
        self.ws.audit("models.policy", self.ws.name, {"require_approval": sorted(aliases)})

    # aliases -------------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int | str, *, reason: str = "",
                  remove: tuple[str, ...] = ()) -> str | None:
        """Point ``alias`` at ``version`` (and drop the ``remove`` aliases if they pointed at
        it), under the model's lock; the version the alias pointed at before."""
        name = model_name(name)
        _check_alias(alias)
        self.model(name)
        self.grants.require_manage("function", name)
        with self.locked(name):
            mv = self.version(name, version)
            missing = self.missing_approval(name, alias, mv)
            if missing is not None:
                raise KilnError(
                    f"workspace {self.ws.name} requires an approval before @{alias} moves: "
                    f"version {mv.version} of {name} is {missing}",
                    detail=f"Request one with 'kiln models request-approval {name} --version "
                           f"{mv.version}' and have it approved ('kiln models approve').")
            before = self.by_alias(name, alias)
            previous = str(before.version) if before is not None else None
            self.db.set_alias(name, alias, mv.version)
            for other in remove:
                held = self.by_alias(name, other)
                if held is not None and held.version == mv.version:
                    self.db.delete_alias(name, other)
            self.ws.audit("models.set_alias", name, {
                "alias": alias, "version": str(mv.version), "previous": previous,
                "reason": reason, "removed": list(remove)})
        return previous

    def delete_alias(self, name: str, alias: str, *, reason: str = "") -> None:
        name = model_name(name)
        self.model(name)
        self.grants.require_manage("function", name)
        with self.locked(name):
            held = self.by_alias(name, alias)
            if held is None:
                raise NotFound(f"{name} has no alias @{alias}")
            self.db.delete_alias(name, alias)
            self.ws.audit("models.delete_alias", name, {"alias": alias,
                                                        "version": str(held.version),
                                                        "reason": reason})

    def set_version_tags(self, name: str, version: int | str, tags: dict[str, str]) -> None:
        self.db.set_version_tags(model_name(name), version, tags)

    @contextlib.contextmanager
    def locked(self, name: str) -> Iterator[None]:
        """The model's lock: alias moves by concurrent jobs happen one after another."""
        holder = f"{self.ws.current_user()} (pid {os.getpid()})"
        deadline = time.monotonic() + LOCK_WAIT_S
        delay = 0.01
        while True:
            try:
                lock = self.ws.acquire_lock(f"model:{name}", holder)
                break
            except LockHeld as e:
                if time.monotonic() > deadline:
                    raise KilnError(f"{name} is locked by another change: {e}") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        try:
            yield
        finally:
            self.ws.release_lock(f"model:{name}", lock.lock_id)

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except NotFound:
            raise NotFound(f"{what} does not exist in workspace {self.ws.name}") from None


def _check_alias(alias: str) -> None:
    import re

    if not re.match(r"^[A-Za-z_][A-Za-z0-9_-]{0,254}$", alias) or \
            re.match(r"^v\d+$", alias, re.IGNORECASE) or alias.lower() == "latest":
        raise KilnError(f"invalid alias {alias!r}: use letters, digits, '_' and '-', not "
                        "'latest' or v<number>")
