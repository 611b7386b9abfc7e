"""The service API of one workspace (one environment: dev, staging, prod).

Every part of kiln talks to a workspace through this interface only; the in-process
implementation (``kiln.workspace.local``) keeps everything in a directory with a SQLite
metadata database; ``kiln.workspace.remote`` speaks to a ``kiln server`` for what a
deploy needs (``DeployTarget``). The shapes
follow the Databricks REST API: jobs have an integer ``job_id`` and ``settings``; Unity
Catalog objects are keyed by their full name; experiments by ``experiment_id``.

Objects a bundle deploys carry a ``bundle_ref`` (``<state id>#<type>.<key>``), the
workspace-side marker that lets a deploy find its own objects again even if its state
was lost mid-write.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from kiln.errors import AlreadyExists, Conflict, KilnError, NotFound  # noqa: F401 (re-exported)

# Object kinds the workspace stores, named as bundle resource types.
KINDS = ("jobs", "experiments", "registered_models", "catalogs", "schemas", "volumes",
         "tables", "functions", "model_serving_endpoints", "quality_monitors")


class LockHeld(Conflict):
    """Another deploy holds the target's deployment lock."""


class StateConflict(Conflict):
    """Another deploy wrote the deployment state since this one read it."""


@dataclass(frozen=True)
class ObjectInfo:
    kind: str
    id: str  # job_id (as text), experiment_id, or the full name of a catalog object
    name: str
    settings: dict[str, Any]
    bundle_ref: str | None = None
    created_at: int = 0  # epoch milliseconds
    updated_at: int = 0
    creator: str = ""


@dataclass(frozen=True)
class TokenOwner:
    user: str
    run_id: int | None = None  # a job run's own token: the run it was made for


@dataclass(frozen=True)
class LockInfo:
    state_id: str
    lock_id: str
    holder: str
    host: str
    pid: int
    acquired_at: int


@dataclass(frozen=True)
class DeployState:
    """What a deploy recorded about a bundle target in this workspace."""

    state_id: str
    lineage: str
    serial: int
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LineageEntry:
    """A job run (task) or MLflow run read or wrote a version of a table."""

    entity: str
    version: str | None
    op: str  # read | write
    job_run_id: int | None = None
    task_key: str | None = None
    mlflow_run_id: str | None = None
    ts: int = 0


class DeployTarget(ABC):
    """What a deploy needs of a workspace: who acts, its objects, its files, the deploy
    state and lock, and the audit log. Implemented in-process (every ``Workspace``) and
    over HTTP (``kiln.workspace.remote``, a kiln server). Each call is atomic."""

    name: str

    # identity ----------------------------------------------------------------------
    @abstractmethod
    def current_user(self) -> str: ...

    @abstractmethod
    def url(self, kind: str, id: str) -> str:
        """Where a user can see the object (a ``kiln://`` or server URL)."""

    # objects -----------------------------------------------------------------------
    @abstractmethod
    def create(self, kind: str, name: str, settings: dict[str, Any],
               bundle_ref: str | None = None) -> ObjectInfo: ...

    @abstractmethod
    def update(self, kind: str, id: str, name: str, settings: dict[str, Any]) -> ObjectInfo: ...

    @abstractmethod
    def delete(self, kind: str, id: str) -> None: ...

    @abstractmethod
    def get(self, kind: str, id: str) -> ObjectInfo: ...

    @abstractmethod
    def list(self, kind: str | None = None, *, bundle_ref_prefix: str | None = None,
             name: str | None = None) -> list[ObjectInfo]: ...

    # workspace files ---------------------------------------------------------------
    @abstractmethod
    def upload(self, path: str, local_file: str) -> None:
        """Copy a local file to the workspace path ``path`` (``/Workspace/...``)."""

    @abstractmethod
    def read(self, path: str) -> bytes: ...

    @abstractmethod
    def delete_path(self, path: str, recursive: bool = False) -> None: ...

    @abstractmethod
    def list_files(self, path: str) -> list[str]:
        """Workspace paths of the files under ``path``, recursively."""

    @abstractmethod
    def write(self, path: str, content: bytes) -> None:
        """Write a workspace file at once (readers see the old or the new content)."""

    @abstractmethod
    def mkdirs(self, path: str) -> None: ...

    @abstractmethod
    def path_kind(self, path: str) -> str | None:
        """``"DIRECTORY"``, ``"FILE"`` or None (nothing there)."""

    @abstractmethod
    def list_dir(self, path: str) -> list[tuple[str, bool]]:
        """The entries directly in a directory: (name, is a directory), by name."""

    # deployments -------------------------------------------------------------------
    @abstractmethod
    def acquire_lock(self, state_id: str, holder: str, *, force: bool = False) -> LockInfo: ...

    @abstractmethod
    def release_lock(self, state_id: str, lock_id: str) -> None: ...

    @abstractmethod
    def read_state(self, state_id: str) -> DeployState | None: ...

    @abstractmethod
    def write_state(self, state: DeployState) -> None:
        """Replace the state if ``state.serial`` is newer than the stored one."""

    @abstractmethod
    def delete_state(self, state_id: str) -> None: ...

    # audit -------------------------------------------------------------------------
    @abstractmethod
    def audit(self, action: str, target: str, detail: dict[str, Any] | None = None) -> None: ...

    def close(self) -> None:  # noqa: B027 - optional for implementations
        pass


class RunStore(ABC):
    """Job runs: their documents, the process running each, cancel requests, and the
    slots that cap a job's concurrent runs (the job engine's rules are kiln.jobs')."""

    @abstractmethod
    def create_run(self, job_id: int, doc: dict[str, Any]) -> int:
        """Record a new run (Jobs API ``runs/get`` shape) started by this process."""

    @abstractmethod
    def update_run(self, run_id: int, doc: dict[str, Any]) -> None: ...

    @abstractmethod
    def get_run(self, run_id: int) -> dict[str, Any]:
        """The run; a run whose process died is reported failed, not running forever."""

    @abstractmethod
    def list_runs(self, job_id: int | None = None, limit: int = 25) -> list[dict[str, Any]]: ...

    @abstractmethod
    def adopt_run(self, run_id: int) -> None:
        """This process now runs the run (its liveness is what ``get_run`` checks)."""

    @abstractmethod
    def runner_of(self, run_id: int) -> tuple[str, int] | None:
        """(host, pid) of the process running the run."""

    @abstractmethod
    def claim_run_slot(self, run_id: int, job_id: int, limit: int) -> bool:
        """Atomically: mark the run RUNNING if fewer than ``limit`` runs of the job are."""

    @abstractmethod
    def request_cancel(self, run_id: int) -> None:
        """Ask the process running the run to cancel it (it stops its tasks' processes)."""

    @abstractmethod
    def cancel_requested(self, run_id: int) -> bool: ...

    @abstractmethod
    def run_dir(self, run_id: int) -> str:
        """A local directory for the run's task logs and outputs."""


class MonitorStore(ABC):
    """Quality monitors' refreshes and the windows their metrics cover."""

    @abstractmethod
    def add_monitor_refresh(self, monitor: str, doc: dict[str, Any]) -> int:
        """Record a refresh of ``monitor``; its id (1, 2, ... per monitor, never reused)."""

    @abstractmethod
    def update_monitor_refresh(self, monitor: str, refresh_id: int,
                               doc: dict[str, Any]) -> None: ...

    @abstractmethod
    def monitor_refreshes(self, monitor: str, limit: int = 100) -> list[dict[str, Any]]:
        """The monitor's latest refreshes, oldest first."""

    @abstractmethod
    def monitor_windows(self, monitor: str) -> set[tuple[str, str]]:
        """The (granularity, window start) windows the monitor's metrics were computed for."""

    @abstractmethod
    def add_monitor_windows(self, monitor: str, windows: set[tuple[str, str]]) -> None: ...


class StateStore(ABC):
    """Small typed states: schedules' last fires, endpoints' reported states, the model
    policy, and named settings (the running server's address)."""

    @abstractmethod
    def last_fire(self, job_id: str) -> int | None:
        """When the scheduler last fired (or first saw) the job's schedule, epoch ms."""

    @abstractmethod
    def advance_fire(self, job_id: str, expected: int | None, now_ms: int) -> bool:
        """Set the job's last fire to ``now_ms`` if it is still ``expected``: of two
        schedulers that saw the same fire due, one wins."""

    @abstractmethod
    def endpoint_state(self, name: str) -> dict[str, Any] | None:
        """What the serving server last reported about an endpoint."""

    @abstractmethod
    def put_endpoint_state(self, name: str, doc: dict[str, Any]) -> None: ...

    @abstractmethod
    def model_policy(self) -> dict[str, Any]:
        """``require_approval`` (aliases) and ``replay_min_agreement`` (or None)."""

    @abstractmethod
    def put_model_policy(self, **fields: Any) -> None:
        """Change some fields of the model policy."""

    @abstractmethod
    def get_setting(self, key: str) -> str | None: ...

    @abstractmethod
    def set_setting(self, key: str, value: str) -> None: ...


class SecretStore(ABC):
    """Secret scopes and their values."""

    @abstractmethod
    def create_scope(self, scope: str) -> None: ...

    @abstractmethod
    def delete_scope(self, scope: str) -> None: ...

    @abstractmethod
    def list_scopes(self) -> list[str]: ...

    @abstractmethod
    def put_secret(self, scope: str, key: str, value: str) -> None: ...

    @abstractmethod
    def delete_secret(self, scope: str, key: str) -> None: ...

    @abstractmethod
    def list_secrets(self, scope: str) -> list[str]:
        """The keys of a scope (never the values)."""

    @abstractmethod
    def get_secret(self, scope: str, key: str) -> str: ...


class TokenStore(ABC):
    """Personal access tokens (hashed at rest) and run tokens."""

    @abstractmethod
    def create_token(self, user: str, comment: str = "", lifetime_s: int | None = None,
                     run_id: int | None = None) -> tuple[str, str]:
        """A new personal access token of ``user`` (a job run's own with ``run_id``):
        (token id, token value, shown once)."""

    @abstractmethod
    def list_tokens(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    def delete_token(self, token_id: str) -> None: ...

    @abstractmethod
    def token_owner(self, value: str) -> TokenOwner | None:
        """Whose a valid, unexpired token is: its user, and its job run if it is a run's."""

    def user_for_token(self, value: str) -> str | None:
        """The user a valid, unexpired token belongs to."""
        owner = self.token_owner(value)
        return owner.user if owner is not None else None


class IdentityStore(ABC):
    """Users, groups, service principals, memberships and Unity Catalog grants (the rules
    are kiln.identity's and kiln.catalog.grants')."""

    @abstractmethod
    def principals(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Users, groups and service principals (``name``, ``kind``, ``display_name``,
        ``active``, ``created_at``), by name."""

    @abstractmethod
    def add_principal(self, name: str, kind: str, display_name: str | None = None,
                      exist_ok: bool = False) -> None:
        """Add a principal; ``AlreadyExists`` if the name is taken (unless ``exist_ok``)."""

    @abstractmethod
    def delete_principal(self, name: str) -> None:
        """Remove a principal, its memberships and its grants (``NotFound`` if absent)."""

    @abstractmethod
    def group_members(self, group: str) -> list[str]: ...

    @abstractmethod
    def groups_of(self, member: str) -> list[str]: ...

    @abstractmethod
    def set_membership(self, group: str, member: str, present: bool) -> None: ...

    @abstractmethod
    def grants_on(self, securables: list[tuple[str, str]]) -> list[tuple[str, str, str, str]]:
        """(securable type, full name, principal, privilege) of the given securables."""

    @abstractmethod
    def change_grants(self, securable_type: str, full_name: str, principal: str,
                      add: list[str], remove: list[str]) -> None:
        """Add and remove a principal's privileges on a securable, at once."""


class LineageStore(ABC):
    """The audit log's reading side, and the lineage of tables and models."""

    @abstractmethod
    def audit_log(self, limit: int = 100, target: str | None = None) -> list[dict[str, Any]]:
        """The newest entries first (of one target, when given)."""

    @abstractmethod
    def record_lineage(self, entry: LineageEntry) -> None: ...

    @abstractmethod
    def lineage(self, *, entity: str | None = None, job_run_ids: list[int] | None = None,
                mlflow_run_ids: list[str] | None = None) -> list[LineageEntry]:
        """Entries about an entity, or made by any of the given job or MLflow runs."""


class Workspace(DeployTarget, RunStore, MonitorStore, StateStore, SecretStore, TokenStore,
                IdentityStore, LineageStore):
    """One environment, in this process: everything a deploy needs (``DeployTarget``) and
    each domain's store. Services take the workspace and call the store of their domain;
    implementations make each call atomic."""

    @abstractmethod
    def as_user(self, user: str) -> "Workspace":
        """The same workspace, acting for ``user`` (what it creates and audits is theirs):
        a server answers each request as the user of its token."""

    @abstractmethod
    def local_path(self, path: str) -> str | None:
        """Where a workspace path lives on this machine, if it does."""

    @abstractmethod
    def local_root(self) -> str | None:
        """The directory holding this workspace on this machine (None when remote)."""
