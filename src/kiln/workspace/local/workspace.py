"""``LocalWorkspace``: the workspace service API over a directory on this machine, its
metadata in SQLite (or PostgreSQL) and its files beside it (``kiln.workspace.layout``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
import uuid
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update

from kiln.errors import KilnError
from kiln.pids import alive
from kiln.workspace.api import (
    AlreadyExists,
    DeployState,
    LineageEntry,
    LockHeld,
    LockInfo,
    NotFound,
    ObjectInfo,
    StateConflict,
    TokenOwner,
    Workspace,
)
from kiln.workspace.local import catalog_store, object_store, paths
from kiln.workspace.local import tables as t
from kiln.workspace.local import database
from kiln.workspace.local.db import dump, open_engine, write
from kiln.workspace import layout

_MLFLOW_KINDS = {"experiments", "registered_models"}  # also live in the workspace's MLflow


def _now() -> int:
    return int(time.time() * 1000)


def object_id_for(kind: str, name: str, settings: dict[str, Any]) -> str | None:
    """The natural id of objects keyed by name (Unity Catalog objects, endpoints)."""
    if kind == "catalogs":
        return name
    if kind == "schemas":
        return f"{settings.get('catalog_name')}.{name}"
    if kind in ("volumes", "registered_models", "tables", "functions"):
        return f"{settings.get('catalog_name')}.{settings.get('schema_name')}.{name}"
    if kind == "model_serving_endpoints":
        return name
    if kind == "quality_monitors":
        return str(settings.get("table_name", name))
    return None  # jobs, experiments: a generated id


class LocalWorkspace(Workspace):
    def __init__(self, name: str, directory: str, user: str) -> None:
        self.name = name
        self.directory = directory
        self._user = user
        os.makedirs(directory, exist_ok=True)
        self.engine = open_engine(database.url_of(directory))
        self.catalog_store = catalog_store.CatalogStore(self.engine, name)
        self.object_store = object_store.ObjectStore(self.engine, name)

    def close(self) -> None:
        self.engine.dispose()

    # identity ----------------------------------------------------------------------
    def current_user(self) -> str:
        return self._user

    def as_user(self, user: str) -> "LocalWorkspace":
        if user == self._user:
            return self
        other = object.__new__(LocalWorkspace)
        other.__dict__.update(self.__dict__)  # the same directory and database engine
        other._user = user
        return other

    def url(self, kind: str, id: str) -> str:
        return f"kiln://{self.name}/{kind}/{id}"

    # objects -----------------------------------------------------------------------
    def create(self, kind: str, name: str, settings: dict[str, Any],
               bundle_ref: str | None = None) -> ObjectInfo:
        now = _now()
        natural = object_id_for(kind, name, settings)
        if kind in catalog_store.KINDS:  # the catalog's registrations: a store of their own
            info = self.catalog_store.create(kind, str(natural), settings, self._user, now)
            self._audit_grants(kind, info.id, None, settings)
            return info
        if kind in _MLFLOW_KINDS:  # MLflow first: a retried create adopts what it made
            natural = self._mlflow_create(kind, natural, settings)
        info = self.object_store.create(kind, natural, name, settings, bundle_ref, self._user,
                                        now)
        self._materialize(kind, info.id, settings)
        self._audit_grants(kind, info.id, None, settings)
        return info

    def update(self, kind: str, id: str, name: str, settings: dict[str, Any]) -> ObjectInfo:
        now = _now()
        if kind in catalog_store.KINDS:
            before, after = self.catalog_store.update(kind, id, settings, now)
            self._audit_grants(kind, id, before.settings, settings)
            return after
        before, after = self.object_store.update(
            kind, id, name, settings, now, before=(lambda: self._mlflow_update(
                kind, id, settings)) if kind in _MLFLOW_KINDS else None)
        self._materialize(kind, id, settings)
        self._audit_grants(kind, id, before.settings, settings)
        return after

    def delete(self, kind: str, id: str) -> None:
        if kind in catalog_store.KINDS:
            self.catalog_store.delete(kind, id)
            return
        if kind in _MLFLOW_KINDS:
            self.get(kind, id)  # NotFound before anything is touched
            self._mlflow_delete(kind, id)
        self.object_store.delete(kind, id)

    def get(self, kind: str, id: str) -> ObjectInfo:
        if kind in catalog_store.KINDS:
            return self.catalog_store.get(kind, id)
        return self.object_store.get(kind, id)

    def list(self, kind: str | None = None, *, bundle_ref_prefix: str | None = None,
             name: str | None = None) -> list[ObjectInfo]:
        if kind in catalog_store.KINDS:  # never deployed: no bundle_ref
            return [] if bundle_ref_prefix is not None else self.catalog_store.list(kind, name)
        found = self.object_store.list(kind, bundle_ref_prefix=bundle_ref_prefix, name=name)
        if kind is None and bundle_ref_prefix is None:
            for typed in sorted(catalog_store.KINDS):
                found += self.catalog_store.list(typed, name)
        return found

    def _mlflow_create(self, kind: str, natural: str | None, settings: dict[str, Any]) -> str:
        from kiln.models import objects

        if kind == "experiments":
            return objects.ensure_experiment(self.directory, settings)
        objects.ensure_registered_model(self.directory, str(natural), settings)
        return str(natural)

    def _mlflow_update(self, kind: str, id: str, settings: dict[str, Any]) -> None:
        from kiln.models import objects

        if kind == "experiments":
            objects.update_experiment(self.directory, id, settings)
        else:
            objects.ensure_registered_model(self.directory, id, settings)

    def _mlflow_delete(self, kind: str, id: str) -> None:
        from kiln.models import objects

        if kind == "experiments":
            objects.delete_experiment(self.directory, id)
        else:
            objects.delete_registered_model(self.directory, id)

    def _audit_grants(self, kind: str, id: str, before: dict[str, Any] | None,
                      after: dict[str, Any]) -> None:
        old = (before or {}).get("grants") or []
        new = after.get("grants") or []
        if old != new:
            self.audit("grants.update", f"{object_store.singular(kind)} {id}", {"before": old, "after": new})

    def _materialize(self, kind: str, id: str, settings: dict[str, Any]) -> None:
        """Managed volumes are directories under ``volumes/``."""
        if kind == "volumes" and settings.get("volume_type", "MANAGED") == "MANAGED":
            os.makedirs(os.path.join(layout.volumes_dir(self.directory), *id.split(".")),
                        exist_ok=True)

    # workspace files ---------------------------------------------------------------
    def local_path(self, path: str) -> str:
        return paths.local_path(self.directory, path)

    def local_root(self) -> str:
        return self.directory

    def upload(self, path: str, local_file: str) -> None:
        dest = self.local_path(path)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        tmp = f"{dest}.kiln-upload-{os.getpid()}"
        shutil.copy2(local_file, tmp)
        os.replace(tmp, dest)  # a reader sees the old file or the new one, never half

    def read(self, path: str) -> bytes:
        try:
            with open(self.local_path(path), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise NotFound(f"{path} does not exist in workspace {self.name}") from None

    def delete_path(self, path: str, recursive: bool = False) -> None:
        p = self.local_path(path)
        if os.path.isdir(p):
            if recursive:
                shutil.rmtree(p)
            else:
                os.rmdir(p)
        elif os.path.exists(p):
            os.remove(p)
        parent = os.path.dirname(p)
        fs_root = layout.files_dir(self.directory)
        while parent.startswith(fs_root) and parent != fs_root:  # no empty directories left
            try:
                os.rmdir(parent)
            except OSError:
                break
            parent = os.path.dirname(parent)

    def write(self, path: str, content: bytes) -> None:
        dest = self.local_path(path)
        if os.path.isdir(dest):
            raise AlreadyExists(f"{path} is a directory in workspace {self.name}")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        tmp = f"{dest}.kiln-upload-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(content)
        os.replace(tmp, dest)

    def mkdirs(self, path: str) -> None:
        dest = self.local_path(path)
        if os.path.isfile(dest):
            raise AlreadyExists(f"{path} is a file in workspace {self.name}")
        os.makedirs(dest, exist_ok=True)

    def path_kind(self, path: str) -> str | None:
        p = self.local_path(path)
        return "DIRECTORY" if os.path.isdir(p) else "FILE" if os.path.isfile(p) else None

    def list_dir(self, path: str) -> list[tuple[str, bool]]:
        p = self.local_path(path)
        if not os.path.isdir(p):
            raise NotFound(f"{path} is not a directory in workspace {self.name}")
        return sorted((e.name, e.is_dir()) for e in os.scandir(p)
                      if ".kiln-upload-" not in e.name)

    def list_files(self, path: str) -> list[str]:
        base = self.local_path(path)
        out = []
        for dirpath, _dirs, files in os.walk(base):
            rel = os.path.relpath(dirpath, base)
            for f in files:
                sub = f if rel == "." else f"{rel}/{f}"
                out.append(path.rstrip("/") + "/" + sub.replace(os.sep, "/"))
        return sorted(out)

    # deployments -------------------------------------------------------------------
    def acquire_lock(self, state_id: str, holder: str, *, force: bool = False) -> LockInfo:
        lock = LockInfo(state_id, uuid.uuid4().hex, holder, socket.gethostname(), os.getpid(),
                        _now())
        with write(self.engine) as c:
            row = c.execute(select(t.deploy_locks).where(
                t.deploy_locks.c.state_id == state_id)).first()
            if row is not None:
                stale = row.host == lock.host and not alive(row.pid)
                if not (force or stale):
                    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.acquired_at / 1000))
                    raise LockHeld(
                        f"deploy lock acquired by {row.holder} at {since} (lock id {row.lock_id}, "
                        f"pid {row.pid} on {row.host}); use --force-lock to override")
                c.execute(delete(t.deploy_locks).where(t.deploy_locks.c.state_id == state_id))
            c.execute(insert(t.deploy_locks).values(
                state_id=state_id, lock_id=lock.lock_id, holder=holder, host=lock.host,
                pid=lock.pid, acquired_at=lock.acquired_at))
        return lock

    def release_lock(self, state_id: str, lock_id: str) -> None:
        with write(self.engine) as c:
            c.execute(delete(t.deploy_locks).where(t.deploy_locks.c.state_id == state_id,
                                                   t.deploy_locks.c.lock_id == lock_id))

    def read_state(self, state_id: str) -> DeployState | None:
        with self.engine.connect() as c:
            row = c.execute(select(t.deploy_state).where(
                t.deploy_state.c.state_id == state_id)).first()
        if row is None:
            return None
        return DeployState(row.state_id, row.lineage, row.serial, json.loads(row.data))

    def write_state(self, state: DeployState) -> None:
        with write(self.engine) as c:
            row = c.execute(select(t.deploy_state.c.serial, t.deploy_state.c.lineage).where(
                t.deploy_state.c.state_id == state.state_id)).first()
            values = dict(lineage=state.lineage, serial=state.serial, data=dump(state.data),
                          updated_at=_now())
            if row is None:
                c.execute(insert(t.deploy_state).values(state_id=state.state_id, **values))
            else:
                if row.lineage != state.lineage:
                    raise StateConflict(f"deployment state lineage mismatch for "
                                        f"{state.state_id}: stored {row.lineage}, writing "
                                        f"{state.lineage}")
                if state.serial <= row.serial:
                    raise StateConflict(f"deployment state for {state.state_id} is at serial "
                                        f"{row.serial}; refusing to write older serial "
                                        f"{state.serial}")
                c.execute(update(t.deploy_state).where(
                    t.deploy_state.c.state_id == state.state_id).values(**values))

    def delete_state(self, state_id: str) -> None:
        with write(self.engine) as c:
            c.execute(delete(t.deploy_state).where(t.deploy_state.c.state_id == state_id))

    # job runs ----------------------------------------------------------------------
    def create_run(self, job_id: int, doc: dict[str, Any]) -> int:
        now = _now()
        with write(self.engine) as c:
            res = c.execute(insert(t.runs).values(
                job_id=job_id, life_cycle_state=doc["state"]["life_cycle_state"],
                result_state=doc["state"].get("result_state"), doc="{}",
                runner_host=socket.gethostname(), runner_pid=os.getpid(), created_at=now,
                updated_at=now))
            run_id = int(res.inserted_primary_key[0])  # type: ignore[index]
            c.execute(update(t.runs).where(t.runs.c.run_id == run_id).values(
                doc=dump({**doc, "run_id": run_id})))
        return run_id

    def update_run(self, run_id: int, doc: dict[str, Any]) -> None:
        with write(self.engine) as c:
            c.execute(update(t.runs).where(t.runs.c.run_id == run_id).values(
                life_cycle_state=doc["state"]["life_cycle_state"],
                result_state=doc["state"].get("result_state"), doc=dump(doc),
                updated_at=_now()))

    def get_run(self, run_id: int) -> dict[str, Any]:
        with self.engine.connect() as c:
            row = c.execute(select(t.runs).where(t.runs.c.run_id == run_id)).first()
        if row is None:
            raise NotFound(f"run {run_id} does not exist in workspace {self.name}")
        return self._checked(row)

    def list_runs(self, job_id: int | None = None, limit: int = 25) -> list[dict[str, Any]]:
        q = select(t.runs).order_by(t.runs.c.run_id.desc()).limit(limit)
        if job_id is not None:
            q = q.where(t.runs.c.job_id == job_id)
        with self.engine.connect() as c:
            rows = list(c.execute(q))
        return [self._checked(r) for r in rows]

    def _checked(self, row: Any) -> dict[str, Any]:
        doc = json.loads(row.doc)
        done = row.life_cycle_state in ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")
        if not done and row.runner_host == socket.gethostname() and not alive(row.runner_pid):
            message = (f"the kiln process running this run (pid {row.runner_pid}) stopped "
                       "before the run finished")
            doc["state"] = {"life_cycle_state": "INTERNAL_ERROR", "result_state": "FAILED",
                            "state_message": message}
            for task in doc.get("tasks", []):
                st = task.get("state", {})
                if st.get("life_cycle_state") not in ("TERMINATED", "SKIPPED", "INTERNAL_ERROR"):
                    task["state"] = {"life_cycle_state": "INTERNAL_ERROR",
                                     "result_state": "FAILED", "state_message": message}
            doc.setdefault("end_time", _now())
            self.update_run(row.run_id, doc)
        return doc

    def adopt_run(self, run_id: int) -> None:
        with write(self.engine) as c:
            c.execute(update(t.runs).where(t.runs.c.run_id == run_id).values(
                runner_host=socket.gethostname(), runner_pid=os.getpid()))

    def runner_of(self, run_id: int) -> tuple[str, int] | None:
        with self.engine.connect() as c:
            row = c.execute(select(t.runs.c.runner_host, t.runs.c.runner_pid).where(
                t.runs.c.run_id == run_id)).first()
        return None if row is None else (row[0], row[1])

    def claim_run_slot(self, run_id: int, job_id: int, limit: int) -> bool:
        host = socket.gethostname()
        with write(self.engine) as c:  # BEGIN IMMEDIATE: one claimer at a time
            active = 0
            for row in c.execute(select(t.runs.c.run_id, t.runs.c.runner_host,
                                        t.runs.c.runner_pid).where(
                    t.runs.c.job_id == job_id, t.runs.c.run_id != run_id,
                    t.runs.c.life_cycle_state == "RUNNING")):
                if row.runner_host != host or alive(row.runner_pid):
                    active += 1
            if active >= limit:
                return False
            c.execute(update(t.runs).where(t.runs.c.run_id == run_id).values(
                life_cycle_state="RUNNING"))
        return True

    def request_cancel(self, run_id: int) -> None:
        self.get_run(run_id)  # NotFound for an unknown run
        with write(self.engine) as c:
            c.execute(update(t.runs).where(t.runs.c.run_id == run_id).values(cancel_requested=1))

    def cancel_requested(self, run_id: int) -> bool:
        with self.engine.connect() as c:
            row = c.execute(select(t.runs.c.cancel_requested).where(
                t.runs.c.run_id == run_id)).first()
        return bool(row and row[0])

    def run_dir(self, run_id: int) -> str:
        return layout.run_dir(self.directory, run_id)

    # settings ----------------------------------------------------------------------
    def add_monitor_refresh(self, monitor: str, doc: dict[str, Any]) -> int:
        # one writing transaction (db.write): the next id is read and taken
        # while no other writer can take it
        with write(self.engine) as c:
            last = c.execute(select(func.max(t.monitor_refreshes.c.refresh_id)).where(
                t.monitor_refreshes.c.monitor == monitor)).scalar()
            refresh_id = int(last or 0) + 1
            c.execute(insert(t.monitor_refreshes).values(
                monitor=monitor, refresh_id=refresh_id,
                doc=dump({**doc, "refresh_id": refresh_id})))
        return refresh_id

    def update_monitor_refresh(self, monitor: str, refresh_id: int,
                               doc: dict[str, Any]) -> None:
        with write(self.engine) as c:
            c.execute(update(t.monitor_refreshes).where(
                t.monitor_refreshes.c.monitor == monitor,
                t.monitor_refreshes.c.refresh_id == refresh_id).values(
                doc=dump({**doc, "refresh_id": refresh_id})))

    def monitor_refreshes(self, monitor: str, limit: int = 100) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(select(t.monitor_refreshes.c.doc).where(
                t.monitor_refreshes.c.monitor == monitor).order_by(
                t.monitor_refreshes.c.refresh_id.desc()).limit(limit)).fetchall()
        return [json.loads(r.doc) for r in reversed(rows)]

    def monitor_windows(self, monitor: str) -> set[tuple[str, str]]:
        w = t.monitor_windows.c
        with self.engine.connect() as c:
            return {(r.granularity, r.window_start) for r in c.execute(
                select(w.granularity, w.window_start).where(w.monitor == monitor))}

    def add_monitor_windows(self, monitor: str, windows: set[tuple[str, str]]) -> None:
        with write(self.engine) as c:
            have = {(r.granularity, r.window_start) for r in c.execute(
                select(t.monitor_windows).where(t.monitor_windows.c.monitor == monitor))}
            new = [{"monitor": monitor, "granularity": g, "window_start": s}
                   for g, s in sorted(windows - have)]
            if new:
                c.execute(insert(t.monitor_windows), new)

    def last_fire(self, job_id: str) -> int | None:
        with self.engine.connect() as c:
            return c.execute(select(t.schedule_fires.c.last_fire).where(
                t.schedule_fires.c.job_id == job_id)).scalar()

    def advance_fire(self, job_id: str, expected: int | None, now_ms: int) -> bool:
        f = t.schedule_fires.c
        with write(self.engine) as c:
            current = c.execute(select(f.last_fire).where(f.job_id == job_id)).scalar()
            if current != expected:
                return False
            if current is None:
                c.execute(insert(t.schedule_fires).values(job_id=job_id, last_fire=now_ms))
            else:
                c.execute(update(t.schedule_fires).where(f.job_id == job_id).values(
                    last_fire=now_ms))
            return True

    def endpoint_state(self, name: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            raw = c.execute(select(t.endpoint_states.c.doc).where(
                t.endpoint_states.c.name == name)).scalar()
        return json.loads(raw) if raw else None

    def put_endpoint_state(self, name: str, doc: dict[str, Any]) -> None:
        e = t.endpoint_states.c
        with write(self.engine) as c:
            if c.execute(update(t.endpoint_states).where(e.name == name).values(
                    doc=dump(doc))).rowcount == 0:
                c.execute(insert(t.endpoint_states).values(name=name, doc=dump(doc)))

    def model_policy(self) -> dict[str, Any]:
        with self.engine.connect() as c:
            row = c.execute(select(t.model_policy).where(t.model_policy.c.id == 1)).first()
        aliases = row.require_approval if row is not None else ""
        return {"require_approval": sorted(a for a in aliases.split(",") if a),
                "replay_min_agreement": row.replay_min_agreement if row is not None else None}

    def put_model_policy(self, **fields: Any) -> None:
        unknown = set(fields) - {"require_approval", "replay_min_agreement"}
        if unknown:
            raise KilnError(f"unknown model policy fields: {', '.join(sorted(unknown))}")
        values = dict(fields)
        if "require_approval" in values:
            values["require_approval"] = ",".join(sorted(values["require_approval"]))
        with write(self.engine) as c:
            if c.execute(update(t.model_policy).where(t.model_policy.c.id == 1).values(
                    **values)).rowcount == 0:
                c.execute(insert(t.model_policy).values(
                    id=1, **{"require_approval": "", "replay_min_agreement": None, **values}))

    def get_setting(self, key: str) -> str | None:
        with self.engine.connect() as c:
            row = c.execute(select(t.info.c.value).where(t.info.c.key == key)).first()
        return None if row is None else row[0]

    def set_setting(self, key: str, value: str) -> None:
        with write(self.engine) as c:
            c.execute(delete(t.info).where(t.info.c.key == key))
            c.execute(insert(t.info).values(key=key, value=value))

    # secrets -----------------------------------------------------------------------
    _SCOPE = re.compile(r"^[A-Za-z0-9_.@-]{1,128}$")

    def _check_name(self, what: str, name: str) -> None:
        if not self._SCOPE.match(name):
            raise KilnError(f"invalid secret {what} name {name!r}: use letters, digits, "
                            "'_', '-', '.' and '@' (at most 128)")

    def create_scope(self, scope: str) -> None:
        self._check_name("scope", scope)
        with write(self.engine) as c:
            if c.execute(select(t.secrets.c.scope).where(t.secrets.c.scope == scope)).first():
                raise AlreadyExists(f"secret scope {scope} already exists")
            c.execute(insert(t.secrets).values(scope=scope, key="", value=None, updated_at=_now()))
        self.audit("secrets.create_scope", scope)

    def delete_scope(self, scope: str) -> None:
        with write(self.engine) as c:
            res = c.execute(delete(t.secrets).where(t.secrets.c.scope == scope))
        if res.rowcount == 0:
            raise NotFound(f"secret scope {scope} does not exist")
        self.audit("secrets.delete_scope", scope)

    def list_scopes(self) -> list[str]:
        with self.engine.connect() as c:
            return [r[0] for r in c.execute(select(t.secrets.c.scope).distinct()
                                            .order_by(t.secrets.c.scope))]

    def put_secret(self, scope: str, key: str, value: str) -> None:
        self._check_name("key", key)
        with write(self.engine) as c:
            if not c.execute(select(t.secrets.c.scope).where(t.secrets.c.scope == scope)).first():
                raise NotFound(f"secret scope {scope} does not exist")
            c.execute(delete(t.secrets).where(t.secrets.c.scope == scope, t.secrets.c.key == key))
            c.execute(insert(t.secrets).values(scope=scope, key=key, value=value, updated_at=_now()))
        self.audit("secrets.put", f"{scope}/{key}")

    def delete_secret(self, scope: str, key: str) -> None:
        with write(self.engine) as c:
            res = c.execute(delete(t.secrets).where(t.secrets.c.scope == scope,
                                                    t.secrets.c.key == key, t.secrets.c.key != ""))
        if res.rowcount == 0:
            raise NotFound(f"secret {scope}/{key} does not exist")
        self.audit("secrets.delete", f"{scope}/{key}")

    def list_secrets(self, scope: str) -> list[str]:
        with self.engine.connect() as c:
            rows = list(c.execute(select(t.secrets.c.key).where(t.secrets.c.scope == scope)
                                  .order_by(t.secrets.c.key)))
        if not rows:
            raise NotFound(f"secret scope {scope} does not exist")
        return [r[0] for r in rows if r[0]]

    def get_secret(self, scope: str, key: str) -> str:
        with self.engine.connect() as c:
            row = c.execute(select(t.secrets.c.value).where(
                t.secrets.c.scope == scope, t.secrets.c.key == key, t.secrets.c.key != "")).first()
        if row is None:
            raise NotFound(f"secret {scope}/{key} does not exist in workspace {self.name}")
        return row[0]

    # audit -------------------------------------------------------------------------
    # tokens ------------------------------------------------------------------------
    def create_token(self, user: str, comment: str = "", lifetime_s: int | None = None,
                     run_id: int | None = None) -> tuple[str, str]:
        import secrets

        value = "dkea" + secrets.token_hex(16)
        token_id = uuid.uuid4().hex
        self.add_principal(user, "USER", exist_ok=True)  # a token's owner is a user here
        now = _now()
        with write(self.engine) as c:
            c.execute(insert(t.tokens).values(
                token_id=token_id, token_hash=_token_hash(value), user=user, comment=comment,
                created_at=now, expires_at=now + lifetime_s * 1000 if lifetime_s else None,
                run_id=run_id))
        self.audit("tokens.create", user, {"token_id": token_id, "comment": comment})
        return token_id, value

    def list_tokens(self) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(select(t.tokens).order_by(t.tokens.c.created_at))
            return [{"token_id": r.token_id, "created_by": r.user, "comment": r.comment,
                     "creation_time": r.created_at, "expiry_time": r.expires_at or -1}
                    for r in rows]

    def delete_token(self, token_id: str) -> None:
        with write(self.engine) as c:
            res = c.execute(delete(t.tokens).where(t.tokens.c.token_id == token_id))
        if res.rowcount == 0:
            raise NotFound(f"token {token_id} does not exist in workspace {self.name}")
        self.audit("tokens.revoke", token_id)

    def token_owner(self, value: str) -> TokenOwner | None:
        with self.engine.connect() as c:
            row = c.execute(select(t.tokens.c.user, t.tokens.c.expires_at, t.tokens.c.run_id)
                            .where(t.tokens.c.token_hash == _token_hash(value))).first()
        if row is None or (row.expires_at is not None and row.expires_at < _now()):
            return None
        return TokenOwner(str(row.user), row.run_id)

    # identities and grants ---------------------------------------------------------
    def principals(self, kind: str | None = None) -> list[dict[str, Any]]:
        q = select(t.principals).order_by(t.principals.c.name)
        if kind is not None:
            q = q.where(t.principals.c.kind == kind)
        with self.engine.connect() as c:
            return [{"name": r.name, "kind": r.kind, "display_name": r.display_name,
                     "active": bool(r.active), "created_at": r.created_at}
                    for r in c.execute(q)]

    def add_principal(self, name: str, kind: str, display_name: str | None = None,
                      exist_ok: bool = False) -> None:
        with write(self.engine) as c:
            row = c.execute(select(t.principals.c.kind).where(
                t.principals.c.name == name)).first()
            if row is not None:
                if exist_ok and row.kind == kind:
                    return
                raise AlreadyExists(f"{row.kind.lower().replace('_', ' ')} {name} already "
                                    f"exists in workspace {self.name}")
            c.execute(insert(t.principals).values(name=name, kind=kind,
                                                  display_name=display_name, active=1,
                                                  created_at=_now()))

    def delete_principal(self, name: str) -> None:
        with write(self.engine) as c:
            res = c.execute(delete(t.principals).where(t.principals.c.name == name))
            if res.rowcount == 0:
                raise NotFound(f"principal {name} does not exist in workspace {self.name}")
            c.execute(delete(t.group_members).where(or_(
                t.group_members.c.member == name, t.group_members.c.group_name == name)))
            c.execute(delete(t.grants).where(t.grants.c.principal == name))

    def group_members(self, group: str) -> list[str]:
        with self.engine.connect() as c:
            return [r.member for r in c.execute(select(t.group_members.c.member).where(
                t.group_members.c.group_name == group).order_by(t.group_members.c.member))]

    def groups_of(self, member: str) -> list[str]:
        with self.engine.connect() as c:
            return [r.group_name for r in c.execute(select(t.group_members.c.group_name).where(
                t.group_members.c.member == member).order_by(t.group_members.c.group_name))]

    def set_membership(self, group: str, member: str, present: bool) -> None:
        with write(self.engine) as c:
            c.execute(delete(t.group_members).where(t.group_members.c.group_name == group,
                                                    t.group_members.c.member == member))
            if present:
                c.execute(insert(t.group_members).values(group_name=group, member=member))

    def grants_on(self, securables: list[tuple[str, str]]) -> list[tuple[str, str, str, str]]:
        if not securables:
            return []
        g = t.grants.c
        q = select(g.securable_type, g.full_name, g.principal, g.privilege).where(or_(*(
            (g.securable_type == kind) & (g.full_name == name) for kind, name in securables)))
        with self.engine.connect() as c:
            return [tuple(r) for r in c.execute(q.order_by(g.principal, g.privilege))]

    def change_grants(self, securable_type: str, full_name: str, principal: str,
                      add: list[str], remove: list[str]) -> None:
        g = t.grants.c
        with write(self.engine) as c:
            key = (g.securable_type == securable_type) & (g.full_name == full_name) & \
                (g.principal == principal)
            if remove:
                c.execute(delete(t.grants).where(key, g.privilege.in_(remove)))
            have = {r.privilege for r in c.execute(select(g.privilege).where(key))}
            for privilege in dict.fromkeys(add):
                if privilege not in have:
                    c.execute(insert(t.grants).values(
                        securable_type=securable_type, full_name=full_name,
                        principal=principal, privilege=privilege))

    def audit(self, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
        with write(self.engine) as c:
            c.execute(insert(t.audit).values(ts=_now(), user=self._user, action=action,
                                             target=target, detail=dump(detail or {})))

    def audit_log(self, limit: int = 100, target: str | None = None) -> list[dict[str, Any]]:
        q = select(t.audit).order_by(t.audit.c.seq.desc()).limit(limit)
        if target is not None:
            q = q.where(t.audit.c.target == target)
        with self.engine.connect() as c:
            return [{"ts": r.ts, "user": r.user, "action": r.action, "target": r.target,
                     "detail": json.loads(r.detail)} for r in c.execute(q)]

    # lineage -----------------------------------------------------------------------
    def record_lineage(self, entry: LineageEntry) -> None:
        with write(self.engine) as c:
            c.execute(insert(t.lineage).values(
                ts=entry.ts or _now(), entity=entry.entity, version=entry.version, op=entry.op,
                job_run_id=entry.job_run_id, task_key=entry.task_key,
                mlflow_run_id=entry.mlflow_run_id))

    def lineage(self, *, entity: str | None = None, job_run_ids: list[int] | None = None,
                mlflow_run_ids: list[str] | None = None) -> list[LineageEntry]:
        conds = []
        if entity is not None:
            conds.append(t.lineage.c.entity == entity)
        if job_run_ids:
            conds.append(t.lineage.c.job_run_id.in_(job_run_ids))
        if mlflow_run_ids:
            conds.append(t.lineage.c.mlflow_run_id.in_(mlflow_run_ids))
        if not conds:
            return []
        q = select(t.lineage).where(or_(*conds)).order_by(t.lineage.c.seq)
        with self.engine.connect() as c:
            return [LineageEntry(r.entity, r.version, r.op, r.job_run_id, r.task_key,
                                 r.mlflow_run_id, r.ts) for r in c.execute(q)]


def _token_hash(value: str) -> str:
    import hashlib

    return hashlib.sha256(value.encode()).hexdigest()


