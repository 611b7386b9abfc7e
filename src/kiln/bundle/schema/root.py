"""The root of ``databricks.yml``: bundle, workspace, variables, targets, resources, ..."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kiln.bundle.schema.base import Model, Permission, PauseStatus
from kiln.bundle.schema.jobs import RunAs
from kiln.bundle.schema.resources import Resources

Mode = Literal["development", "production"]


class Git(Model):
    origin_url: str | None = None
    branch: str | None = None
    commit: str | None = None
    actual_branch: str | None = None
    bundle_root_path: str | None = None


class Lock(Model):
    enabled: bool | None = None
    force: bool | None = None


class DeploymentSettings(Model):
    fail_on_active_runs: bool | None = None
    lock: Lock | None = None


class BundleSection(Model):
    name: str
    target: str | None = None
    mode: Mode | None = None
    cluster_id: str | None = None
    compute_id: str | None = None
    uuid: str | None = None
    databricks_cli_version: str | None = None
    git: Git | None = None
    deployment: DeploymentSettings | None = None
    engine: str | None = None  # the CLI's deployment engine; kiln has one of its own


class BundleOverride(BundleSection):
    """``targets.<t>.bundle``: the same fields, none of them required."""

    name: str | None = None  # type: ignore[assignment]


class CurrentUser(Model):
    userName: str
    short_name: str
    displayName: str | None = None


class Workspace(Model):
    host: str | None = None
    profile: str | None = None
    root_path: str | None = None
    file_path: str | None = None
    artifact_path: str | None = None
    resource_path: str | None = None
    state_path: str | None = None
    current_user: CurrentUser | None = None
    auth_type: str | None = None
    client_id: str | None = None


class Lookup(Model):
    alert: str | None = None
    cluster: str | None = None
    cluster_policy: str | None = None
    dashboard: str | None = None
    instance_pool: str | None = None
    job: str | None = None
    metastore: str | None = None
    notification_destination: str | None = None
    pipeline: str | None = None
    query: str | None = None
    service_principal: str | None = None
    warehouse: str | None = None


LOOKUP_KINDS = tuple(Lookup.model_fields)


class Variable(Model):
    description: str | None = None
    type: Literal["complex"] | None = None
    default: Any = None
    lookup: Lookup | None = None
    value: Any = None


class ArtifactFile(Model):
    source: str


class Artifact(Model):
    type: Literal["whl", "jar"] | None = None
    build: str | None = None
    path: str | None = None
    executable: str | None = None
    files: list[ArtifactFile] | None = None
    dynamic_version: bool | None = None


class Sync(Model):
    include: list[str] | None = None
    exclude: list[str] | None = None
    paths: list[str] | None = None


class Presets(Model):
    name_prefix: str | None = None
    tags: dict[str, str] | None = None
    trigger_pause_status: PauseStatus | None = None
    jobs_max_concurrent_runs: int | None = None
    pipelines_development: bool | None = None
    source_linked_deployment: bool | None = None
    artifacts_dynamic_version: bool | None = None


class Script(Model):
    content: str | None = None  # required, with the CLI's own error (bundle_checks)
    env: dict[str, str] | None = None


class Experimental(Model):
    python_wheel_wrapper: bool | None = None
    use_legacy_run_as: bool | None = None
    scripts: dict[str, str] | None = None
    skip_artifact_cleanup: bool | None = None
    skip_name_prefix_for_schema: bool | None = None


class Target(Model):
    default: bool | None = None
    mode: Mode | None = None
    cluster_id: str | None = None
    compute_id: str | None = None
    bundle: BundleOverride | None = None
    workspace: Workspace | None = None
    variables: dict[str, Any] | None = None
    artifacts: dict[str, Artifact] | None = None
    resources: Resources | None = None
    git: Git | None = None
    run_as: RunAs | None = None
    sync: Sync | None = None
    permissions: list[Permission] | None = None
    presets: Presets | None = None


class BundleConfig(Model):
    """The whole ``databricks.yml`` (root file plus includes), as a user writes it."""

    bundle: BundleSection
    include: list[str] | None = None
    workspace: Workspace | None = None
    variables: dict[str, Variable] | None = None
    artifacts: dict[str, Artifact] | None = None
    resources: Resources | None = None
    sync: Sync | None = None
    permissions: list[Permission] | None = None
    run_as: RunAs | None = None
    presets: Presets | None = None
    experimental: Experimental | None = None
    scripts: dict[str, Script] | None = None
    targets: dict[str, Target | None] | None = None
    environments: dict[str, Target | None] | None = Field(default=None, deprecated=False)
