"""Jobs API 2.1 shapes as written in bundles (``resources.jobs.<key>``)."""

from __future__ import annotations

from typing import Literal


from kiln.bundle.kinds import TASK_TYPES  # noqa: F401  (re-exported)
from kiln.bundle.schema.base import AnyMap, IntOrRef, Model, PauseStatus, ResourceBase

# Enum values in the order the Databricks CLI lists them in its warnings (the API's enums
# alphabetically; the CLI's own, such as artifact types, as it declares them).
RunIf = Literal[
    "ALL_DONE", "ALL_FAILED", "ALL_SUCCESS", "AT_LEAST_ONE_FAILED", "AT_LEAST_ONE_SUCCESS",
    "NONE_FAILED",
]
ConditionOp = Literal[
    "EQUAL_TO", "GREATER_THAN", "GREATER_THAN_OR_EQUAL", "LESS_THAN", "LESS_THAN_OR_EQUAL",
    "NOT_EQUAL",
]
Source = Literal["GIT", "WORKSPACE"]
DataSecurityMode = Literal[
    "DATA_SECURITY_MODE_AUTO", "DATA_SECURITY_MODE_DEDICATED", "DATA_SECURITY_MODE_STANDARD",
    "LEGACY_PASSTHROUGH", "LEGACY_SINGLE_USER", "LEGACY_SINGLE_USER_STANDARD",
    "LEGACY_TABLE_ACL", "NONE", "SINGLE_USER", "USER_ISOLATION",
]


class AwsAttributes(Model):
    availability: Literal["ON_DEMAND", "SPOT", "SPOT_WITH_FALLBACK"] | None = None
    ebs_volume_count: int | None = None
    ebs_volume_iops: int | None = None
    ebs_volume_size: int | None = None
    ebs_volume_throughput: int | None = None
    ebs_volume_type: Literal["GENERAL_PURPOSE_SSD", "THROUGHPUT_OPTIMIZED_HDD"] | None = None
    first_on_demand: int | None = None
    instance_profile_arn: str | None = None
    spot_bid_price_percent: int | None = None
    zone_id: str | None = None


class AzureAttributes(Model):
    availability: Literal["ON_DEMAND_AZURE", "SPOT_AZURE", "SPOT_WITH_FALLBACK_AZURE"] | None = None
    capacity_reservation_group: str | None = None
    first_on_demand: int | None = None
    log_analytics_info: AnyMap | None = None
    spot_bid_max_price: float | None = None


class GcpAttributes(Model):
    availability: Literal["ON_DEMAND_GCP", "PREEMPTIBLE_GCP",
                          "PREEMPTIBLE_WITH_FALLBACK_GCP"] | None = None
    boot_disk_size: int | None = None
    confidential_compute_type: str | None = None
    first_on_demand: int | None = None
    google_service_account: str | None = None
    local_ssd_count: int | None = None
    use_preemptible_executors: bool | None = None
    zone_id: str | None = None


class AutoScale(Model):
    min_workers: int | None = None
    max_workers: int | None = None


class ClusterSpec(Model):
    spark_version: str | None = None
    node_type_id: str | None = None
    driver_node_type_id: str | None = None
    num_workers: int | None = None
    autoscale: AutoScale | None = None
    autotermination_minutes: int | None = None
    apply_policy_default_values: bool | None = None
    aws_attributes: AwsAttributes | None = None
    azure_attributes: AzureAttributes | None = None
    gcp_attributes: GcpAttributes | None = None
    cluster_log_conf: AnyMap | None = None
    cluster_name: str | None = None
    custom_tags: dict[str, str] | None = None
    data_security_mode: DataSecurityMode | None = None
    docker_image: AnyMap | None = None
    driver_instance_pool_id: str | None = None
    enable_elastic_disk: bool | None = None
    enable_local_disk_encryption: bool | None = None
    init_scripts: list[AnyMap] | None = None
    instance_pool_id: str | None = None
    is_single_node: bool | None = None
    kind: str | None = None
    policy_id: str | None = None
    runtime_engine: Literal["NULL", "PHOTON", "STANDARD"] | None = None
    single_user_name: str | None = None
    spark_conf: dict[str, str] | None = None
    spark_env_vars: dict[str, str] | None = None
    ssh_public_keys: list[str] | None = None
    use_ml_runtime: bool | None = None
    workload_type: AnyMap | None = None


class PyPiLibrary(Model):
    package: str
    repo: str | None = None


class Library(Model):
    whl: str | None = None
    jar: str | None = None
    egg: str | None = None
    requirements: str | None = None
    pypi: PyPiLibrary | None = None
    maven: AnyMap | None = None
    cran: AnyMap | None = None


class NotebookTask(Model):
    notebook_path: str
    base_parameters: dict[str, str] | None = None
    source: Source | None = None
    warehouse_id: str | None = None


class SparkPythonTask(Model):
    python_file: str
    parameters: list[str] | None = None
    source: Source | None = None


class PythonWheelTask(Model):
    package_name: str
    entry_point: str
    parameters: list[str] | None = None
    named_parameters: dict[str, str] | None = None


class ConditionTask(Model):
    op: ConditionOp
    left: str
    right: str


class RunJobTask(Model):
    job_id: IntOrRef
    job_parameters: dict[str, str] | None = None
    notebook_params: dict[str, str] | None = None
    python_params: list[str] | None = None
    python_named_params: dict[str, str] | None = None
    jar_params: list[str] | None = None
    spark_submit_params: list[str] | None = None
    sql_params: dict[str, str] | None = None
    dbt_commands: list[str] | None = None
    pipeline_params: AnyMap | None = None


class SqlTaskFile(Model):
    path: str
    source: Source | None = None


class SqlTask(Model):
    warehouse_id: str
    query: AnyMap | None = None
    file: SqlTaskFile | None = None
    alert: AnyMap | None = None
    dashboard: AnyMap | None = None
    parameters: dict[str, str] | None = None


class TaskDependency(Model):
    task_key: str
    outcome: Literal["true", "false"] | None = None


class EmailNotifications(Model):
    on_start: list[str] | None = None
    on_success: list[str] | None = None
    on_failure: list[str] | None = None
    on_duration_warning_threshold_exceeded: list[str] | None = None
    on_streaming_backlog_exceeded: list[str] | None = None
    no_alert_for_skipped_runs: bool | None = None


class WebhookRef(Model):
    id: str


class WebhookNotifications(Model):
    on_start: list[WebhookRef] | None = None
    on_success: list[WebhookRef] | None = None
    on_failure: list[WebhookRef] | None = None
    on_duration_warning_threshold_exceeded: list[WebhookRef] | None = None
    on_streaming_backlog_exceeded: list[WebhookRef] | None = None


class NotificationSettings(Model):
    no_alert_for_skipped_runs: bool | None = None
    no_alert_for_canceled_runs: bool | None = None
    alert_on_last_attempt: bool | None = None


class HealthRule(Model):
    metric: Literal[
        "RUN_DURATION_SECONDS", "STREAMING_BACKLOG_BYTES", "STREAMING_BACKLOG_FILES",
        "STREAMING_BACKLOG_RECORDS", "STREAMING_BACKLOG_SECONDS",
    ]
    op: Literal["GREATER_THAN"]
    value: int


class Health(Model):
    rules: list[HealthRule] | None = None


class Task(Model):
    task_key: str
    description: str | None = None
    depends_on: list[TaskDependency] | None = None
    run_if: RunIf | None = None
    disabled: bool | None = None
    notebook_task: NotebookTask | None = None
    spark_python_task: SparkPythonTask | None = None
    python_wheel_task: PythonWheelTask | None = None
    condition_task: ConditionTask | None = None
    run_job_task: RunJobTask | None = None
    for_each_task: ForEachTask | None = None
    sql_task: SqlTask | None = None
    pipeline_task: AnyMap | None = None
    dbt_task: AnyMap | None = None
    spark_jar_task: AnyMap | None = None
    spark_submit_task: AnyMap | None = None
    dashboard_task: AnyMap | None = None
    clean_rooms_notebook_task: AnyMap | None = None
    job_cluster_key: str | None = None
    existing_cluster_id: str | None = None
    new_cluster: ClusterSpec | None = None
    environment_key: str | None = None
    libraries: list[Library] | None = None
    max_retries: int | None = None
    min_retry_interval_millis: int | None = None
    retry_on_timeout: bool | None = None
    timeout_seconds: int | None = None
    email_notifications: EmailNotifications | None = None
    webhook_notifications: WebhookNotifications | None = None
    notification_settings: NotificationSettings | None = None
    health: Health | None = None
    disable_auto_optimization: bool | None = None


class ForEachTask(Model):
    inputs: str
    task: Task
    concurrency: int | None = None




class JobCluster(Model):
    job_cluster_key: str
    new_cluster: ClusterSpec | None = None


class JobParameter(Model):
    name: str
    default: str


class CronSchedule(Model):
    quartz_cron_expression: str
    timezone_id: str = "UTC"
    pause_status: PauseStatus | None = None


class PeriodicTrigger(Model):
    interval: int
    unit: Literal["DAYS", "HOURS", "WEEKS"]


class FileArrivalTrigger(Model):
    url: str
    min_time_between_triggers_seconds: int | None = None
    wait_after_last_change_seconds: int | None = None


class TableUpdateTrigger(Model):
    table_names: list[str]
    condition: Literal["ALL_UPDATED", "ANY_UPDATED"] | None = None
    min_time_between_triggers_seconds: int | None = None
    wait_after_last_change_seconds: int | None = None


class Trigger(Model):
    pause_status: PauseStatus | None = None
    periodic: PeriodicTrigger | None = None
    file_arrival: FileArrivalTrigger | None = None
    table_update: TableUpdateTrigger | None = None


class Continuous(Model):
    pause_status: PauseStatus | None = None


class Queue(Model):
    enabled: bool


class EnvironmentSpec(Model):
    client: str | None = None
    environment_version: str | None = None
    dependencies: list[str] | None = None


class JobEnvironment(Model):
    environment_key: str
    spec: EnvironmentSpec | None = None


class RunAs(Model):
    user_name: str | None = None
    service_principal_name: str | None = None
    group_name: str | None = None


class GitSource(Model):
    git_url: str
    git_provider: str
    git_branch: str | None = None
    git_tag: str | None = None
    git_commit: str | None = None


class Deployment(Model):
    kind: str
    metadata_file_path: str | None = None
    deployment_id: str | None = None  # managed by the deploy: refused in configuration
    version_id: str | None = None


class Job(ResourceBase):
    name: str | None = None
    description: str | None = None
    tasks: list[Task] | None = None
    job_clusters: list[JobCluster] | None = None
    parameters: list[JobParameter] | None = None
    environments: list[JobEnvironment] | None = None
    schedule: CronSchedule | None = None
    trigger: Trigger | None = None
    continuous: Continuous | None = None
    max_concurrent_runs: int | None = None
    timeout_seconds: int | None = None
    queue: Queue | None = None
    tags: dict[str, str] | None = None
    email_notifications: EmailNotifications | None = None
    webhook_notifications: WebhookNotifications | None = None
    notification_settings: NotificationSettings | None = None
    health: Health | None = None
    run_as: RunAs | None = None
    git_source: GitSource | None = None
    budget_policy_id: str | None = None
    performance_target: str | None = None
    edit_mode: Literal["EDITABLE", "UI_LOCKED"] | None = None
    deployment: Deployment | None = None
    format: str | None = None


Task.model_rebuild()
ForEachTask.model_rebuild()
