"""Bundle resource shapes other than jobs (``resources.<type>.<key>``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kiln.bundle.kinds import DEPLOYABLE  # noqa: F401  (re-exported)
from kiln.bundle.schema.base import (
    AnyMap, Grant, Lifecycle, Model, PauseStatus, ResourceBase, deploy_only,
)
from kiln.bundle.schema.jobs import ClusterSpec, Deployment, Job, RunAs


class KeyValue(Model):
    key: str
    value: str | None = None


class Experiment(ResourceBase):
    name: str
    artifact_location: str | None = None
    # kiln extension (MLOps Stacks writes it): stored as the experiment's description.
    description: str | None = None
    tags: list[KeyValue] | None = None


class RegisteredModel(ResourceBase):
    name: str
    catalog_name: str = deploy_only()
    schema_name: str = deploy_only()
    comment: str | None = None
    storage_location: str | None = None
    grants: list[Grant] | None = None


class LegacyModel(ResourceBase):
    """``resources.models``: the workspace (non-UC) MLflow model registry."""

    name: str
    description: str | None = None
    tags: list[KeyValue] | None = None


class ServedEntity(Model):
    name: str | None = None
    entity_name: str | None = None
    entity_version: str | None = None
    workload_size: str | None = None
    workload_type: str | None = None
    scale_to_zero_enabled: bool | None = None
    environment_vars: dict[str, str] | None = None
    min_provisioned_throughput: int | None = None
    max_provisioned_throughput: int | None = None
    external_model: AnyMap | None = None
    instance_profile_arn: str | None = None
    # kiln extension: follow a registered-model alias instead of a fixed version.
    entity_alias: str | None = None


class ServedModel(Model):
    model_name: str
    model_version: str
    scale_to_zero_enabled: bool = True
    name: str | None = None
    workload_size: str | None = None
    workload_type: str | None = None
    environment_vars: dict[str, str] | None = None


class Route(Model):
    traffic_percentage: int
    served_entity_name: str | None = None
    served_model_name: str | None = None


class TrafficConfig(Model):
    routes: list[Route] | None = None


class InferenceTableConfig(Model):
    catalog_name: str | None = None
    schema_name: str | None = None
    table_name_prefix: str | None = None
    enabled: bool | None = None


class RateLimit(Model):
    calls: int
    renewal_period: Literal["minute"] = "minute"
    key: Literal["endpoint", "user"] | None = None


class AiGatewayRateLimit(Model):
    calls: int | None = None
    renewal_period: Literal["minute"] = "minute"
    key: str | None = None
    principal: str | None = None
    tokens: int | None = None


class AiGateway(Model):
    inference_table_config: InferenceTableConfig | None = None
    rate_limits: list[AiGatewayRateLimit] | None = None
    usage_tracking_config: AnyMap | None = None
    guardrails: AnyMap | None = None
    fallback_config: AnyMap | None = None


class EndpointConfig(Model):
    served_entities: list[ServedEntity] | None = None
    served_models: list[ServedModel] | None = None
    traffic_config: TrafficConfig | None = None
    auto_capture_config: InferenceTableConfig | None = None


class ServingEndpoint(ResourceBase):
    name: str
    config: EndpointConfig | None = None
    ai_gateway: AiGateway | None = None
    rate_limits: list[RateLimit] | None = None
    tags: list[KeyValue] | None = None
    route_optimized: bool | None = None
    budget_policy_id: str | None = None
    description: str | None = None


class MonitorSchedule(Model):
    quartz_cron_expression: str
    timezone_id: str = "UTC"
    pause_status: PauseStatus | None = None


class InferenceLog(Model):
    problem_type: Literal["PROBLEM_TYPE_CLASSIFICATION", "PROBLEM_TYPE_REGRESSION"]
    prediction_col: str
    timestamp_col: str
    granularities: list[str]
    model_id_col: str
    label_col: str | None = None
    prediction_proba_col: str | None = None


class TimeSeries(Model):
    timestamp_col: str
    granularities: list[str]


class Snapshot(Model):
    pass


class MonitorNotifications(Model):
    on_failure: AnyMap | None = None
    on_new_classification_tag_detected: AnyMap | None = None


class MonitorAlert(Model):
    """kiln extension: a rule over the monitor's metric tables, checked after each refresh."""

    name: str
    metric: str  # a drift metric (population_stability_index, js_distance, ...) or profile one
    threshold: float
    op: Literal[">", ">=", "<", "<="] = ">="
    drift_type: Literal["BASELINE", "CONSECUTIVE"] | None = "BASELINE"
    columns: list[str] | None = None
    windows: int = 1  # violating windows needed ...
    of_last: int = 1  # ... among the last N windows
    run_job_id: int | str | None = None
    job_parameters: dict[str, str] | None = None
    webhook_url: str | None = None


class QualityMonitor(ResourceBase):
    table_name: str
    output_schema_name: str
    assets_dir: str
    baseline_table_name: str | None = None
    slicing_exprs: list[str] | None = None
    inference_log: InferenceLog | None = None
    time_series: TimeSeries | None = None
    snapshot: Snapshot | None = None
    schedule: MonitorSchedule | None = None
    custom_metrics: list[AnyMap] | None = None
    notifications: MonitorNotifications | None = None
    skip_builtin_dashboard: bool | None = None
    warehouse_id: str | None = None
    alerts: list[MonitorAlert] | None = None


class Catalog(ResourceBase):
    name: str
    comment: str | None = None
    storage_root: str | None = None
    properties: dict[str, str] | None = None
    grants: list[Grant] | None = None


class Schema(ResourceBase):
    name: str
    catalog_name: str
    comment: str | None = None
    storage_root: str | None = None
    properties: dict[str, str] | None = None
    grants: list[Grant] | None = None


class Volume(ResourceBase):
    name: str
    catalog_name: str
    schema_name: str
    volume_type: Literal["EXTERNAL", "MANAGED"] | None = None
    storage_location: str | None = None
    volume_path: str | None = None  # computed (/Volumes/c/s/v); refused in configuration
    comment: str | None = None
    grants: list[Grant] | None = None


class Cluster(ClusterSpec, ResourceBase):
    pass


class Pipeline(ResourceBase):
    name: str | None = None
    catalog: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    target: str | None = None
    development: bool | None = None
    continuous: bool | None = None
    serverless: bool | None = None
    photon: bool | None = None
    channel: str | None = None
    edition: str | None = None
    libraries: list[AnyMap] | None = None
    clusters: list[AnyMap] | None = None
    configuration: dict[str, str] | None = None
    notifications: list[AnyMap] | None = None
    root_path: str | None = None
    tags: dict[str, str] | None = None
    deployment: Deployment | None = None
    run_as: RunAs | None = None


class AppEnvVar(Model):
    name: str
    value: str | None = None
    value_from: str | None = None


class AppConfig(Model):
    command: list[str] | None = None
    env: list[AppEnvVar] | None = None


class App(ResourceBase):
    name: str
    description: str | None = None
    source_code_path: str | None = None
    git_source: AnyMap | None = None
    config: AppConfig | None = None
    resources: list[AnyMap] | None = None


class Dashboard(ResourceBase):
    display_name: str | None = None  # required, with the CLI's own error (resource_checks)
    file_path: str | None = None
    warehouse_id: str | None = None
    parent_path: str | None = None
    embed_credentials: bool | None = None
    serialized_dashboard: Any = None
    etag: str | None = None  # refused in configuration
    dataset_catalog: str | None = None
    dataset_schema: str | None = None


class SecretScopePermission(Model):
    level: Literal["READ", "WRITE", "MANAGE"]
    user_name: str | None = None
    group_name: str | None = None
    service_principal_name: str | None = None


class SecretScope(Model):
    name: str
    backend_type: str | None = None
    keyvault_metadata: AnyMap | None = None
    permissions: list[SecretScopePermission] | None = None
    lifecycle: Lifecycle | None = None


class Resources(Model):
    jobs: dict[str, Job] | None = None
    experiments: dict[str, Experiment] | None = None
    registered_models: dict[str, RegisteredModel] | None = None
    models: dict[str, LegacyModel] | None = None
    model_serving_endpoints: dict[str, ServingEndpoint] | None = None
    quality_monitors: dict[str, QualityMonitor] | None = None
    catalogs: dict[str, Catalog] | None = None
    schemas: dict[str, Schema] | None = None
    volumes: dict[str, Volume] | None = None
    clusters: dict[str, Cluster] | None = None
    pipelines: dict[str, Pipeline] | None = None
    apps: dict[str, App] | None = None
    dashboards: dict[str, Dashboard] | None = None
    secret_scopes: dict[str, SecretScope] | None = None
    # Resource types kiln neither deploys nor models field by field: their settings are
    # kept as written (checked by kiln.bundle.steps.resource_checks where the CLI checks).
    job_runs: dict[str, AnyMap] | None = None
    genie_spaces: dict[str, AnyMap] | None = None
    alerts: dict[str, AnyMap] | None = None
    sql_warehouses: dict[str, AnyMap] | None = None
    external_locations: dict[str, AnyMap] | None = None
    database_instances: dict[str, AnyMap] | None = None
    database_catalogs: dict[str, AnyMap] | None = None
    synced_database_tables: dict[str, AnyMap] | None = None
    postgres_projects: dict[str, AnyMap] | None = None
    postgres_branches: dict[str, AnyMap] | None = None
    postgres_endpoints: dict[str, AnyMap] | None = None
    postgres_catalogs: dict[str, AnyMap] | None = None
    postgres_databases: dict[str, AnyMap] | None = None
    postgres_roles: dict[str, AnyMap] | None = None
    postgres_synced_tables: dict[str, AnyMap] | None = None
    vector_search_endpoints: dict[str, AnyMap] | None = None
    vector_search_indexes: dict[str, AnyMap] | None = None
    instance_pools: dict[str, AnyMap] | None = None
    secrets: dict[str, AnyMap] | None = None

