"""The metadata database's tables (SQLAlchemy Core). Changes go through a migration."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Float,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()

# epoch milliseconds: 64 bits in PostgreSQL; SQLite's INTEGER holds them as it is (the
# SQLite schema stays what it was)
MILLIS = BigInteger().with_variant(Integer(), "sqlite")

info = Table(
    "workspace_info", metadata,
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False),
)

deploy_locks = Table(
    "deploy_locks", metadata,
    Column("state_id", String, primary_key=True),
    Column("lock_id", String, nullable=False),
    Column("holder", String, nullable=False),
    Column("host", String, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("acquired_at", MILLIS, nullable=False),
)

deploy_state = Table(
    "deploy_state", metadata,
    Column("state_id", String, primary_key=True),
    Column("lineage", String, nullable=False),
    Column("serial", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Column("updated_at", MILLIS, nullable=False),
)

audit = Table(
    "audit", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("ts", MILLIS, nullable=False),
    Column("user", String, nullable=False),
    Column("action", String, nullable=False),
    Column("target", String, nullable=False),
    Column("detail", Text, nullable=False),
)
Index("ix_audit_target", audit.c.target)

runs = Table(
    "runs", metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, nullable=False),
    Column("life_cycle_state", String, nullable=False),
    Column("result_state", String, nullable=True),
    Column("doc", Text, nullable=False),
    Column("runner_host", String, nullable=False),
    Column("runner_pid", Integer, nullable=False),
    Column("cancel_requested", Integer, nullable=False, server_default="0"),
    Column("created_at", MILLIS, nullable=False),
    Column("updated_at", MILLIS, nullable=False),
)
Index("ix_runs_job_id", runs.c.job_id)

secrets = Table(
    "secrets", metadata,
    Column("scope", String, nullable=False),
    Column("key", String, nullable=False),
    Column("value", Text, nullable=True),  # NULL marks an empty scope
    Column("updated_at", MILLIS, nullable=False),
    PrimaryKeyConstraint("scope", "key"),
)

lineage = Table(
    "lineage", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("ts", MILLIS, nullable=False),
    Column("entity", String, nullable=False),  # a table's or model's full name
    Column("version", String, nullable=True),  # the Delta or model version
    Column("op", String, nullable=False),  # read | write
    Column("job_run_id", Integer, nullable=True),
    Column("task_key", String, nullable=True),
    Column("mlflow_run_id", String, nullable=True),
)
Index("ix_lineage_entity", lineage.c.entity)
Index("ix_lineage_job_run", lineage.c.job_run_id)

tokens = Table(
    "tokens", metadata,
    Column("token_id", String, primary_key=True),
    Column("token_hash", String, nullable=False, unique=True),
    Column("user", String, nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_at", MILLIS, nullable=False),
    Column("expires_at", MILLIS, nullable=True),
    Column("run_id", Integer, nullable=True),  # a job run's own token (0010)
)

monitor_refreshes = Table(
    "monitor_refreshes", metadata,
    Column("monitor", String, primary_key=True),  # the monitored table's full name
    Column("refresh_id", Integer, primary_key=True),  # 1, 2, ... per monitor
    Column("doc", Text, nullable=False),  # the refresh (JSON): state, times, windows, alerts
)

principals = Table(
    "principals", metadata,
    Column("name", String, primary_key=True),
    Column("kind", String, nullable=False),  # USER | GROUP | SERVICE_PRINCIPAL
    Column("display_name", String, nullable=True),
    Column("active", Integer, nullable=False),
    Column("created_at", MILLIS, nullable=False),
)

group_members = Table(
    "group_members", metadata,
    Column("group_name", String, primary_key=True),
    Column("member", String, primary_key=True),
)
Index("ix_group_members_member", group_members.c.member)

grants = Table(
    "grants", metadata,
    Column("securable_type", String, primary_key=True),  # catalog, schema, table, ...
    Column("full_name", String, primary_key=True),
    Column("principal", String, primary_key=True),
    Column("privilege", String, primary_key=True),
)

schedule_fires = Table(
    "schedule_fires", metadata,
    Column("job_id", String, primary_key=True),
    Column("last_fire", MILLIS, nullable=False),
)

endpoint_states = Table(
    "endpoint_states", metadata,
    Column("name", String, primary_key=True),
    Column("doc", Text, nullable=False),  # what the serving server reports (JSON)
)

model_policy = Table(
    "model_policy", metadata,
    Column("id", Integer, primary_key=True),  # one row: 1
    Column("require_approval", Text, nullable=False),  # aliases, comma-separated
    Column("replay_min_agreement", Float, nullable=True),
)

monitor_windows = Table(
    "monitor_windows", metadata,
    Column("monitor", String, primary_key=True),
    Column("granularity", String, primary_key=True),
    Column("window_start", String, primary_key=True),
)

def _stamps() -> list[Column]:
    """When a registration or object was made and last changed, and by whom."""
    return [Column("created_at", MILLIS, nullable=False),
            Column("updated_at", MILLIS, nullable=False),
            Column("creator", String, nullable=False)]


# the catalog's registrations, typed: Delta tables and Python functions (0009; before, rows
# of ``objects``). Each is keyed by its full name; ``properties``: what else it carries (a
# feature table's keys, descriptions, tags), as JSON.
def _registration(name: str, *own: Column) -> Table:
    table = Table(
        name, metadata,
        Column("full_name", String, primary_key=True),
        Column("catalog_name", String, nullable=False),
        Column("schema_name", String, nullable=False),
        Column("name", String, nullable=False),
        *own,
        Column("properties", Text, nullable=False),
        *_stamps(),
    )
    Index(f"ix_{name}_schema", table.c.catalog_name, table.c.schema_name)
    return table


catalog_tables = _registration(
    "catalog_tables",
    Column("table_type", String, nullable=False),  # MANAGED | EXTERNAL
    Column("location", Text, nullable=False),
    Column("columns", Text, nullable=False))  # [{"name", "type"}], as registered
catalog_functions = _registration(
    "catalog_functions",
    Column("data_type", String, nullable=False),
    Column("input_params", Text, nullable=False),  # [{"name", "type_name"}]
    Column("routine_definition", Text, nullable=False))


# the deployable objects, each kind in its domain's table (0011; before, rows of one
# generic ``objects`` table): a job keyed by its generated id (never reused: AUTOINCREMENT),
# the others by their natural id (an endpoint's name, a monitor's table, a schema's full
# name, an experiment's MLflow id). Each keeps its settings as the API shapes them and the
# marker of the bundle that deployed it; MLflow's experiments and registered models are
# MLflow's, these rows their deploy markers.
def _deployable(name: str, key: Column, **kw: bool) -> Table:
    table = Table(
        name, metadata,
        key,
        Column("name", String, nullable=False),
        Column("settings", Text, nullable=False),
        Column("bundle_ref", String, nullable=True),
        *_stamps(),
        **kw,
    )
    Index(f"ix_{name}_bundle_ref", table.c.bundle_ref, unique=True)
    Index(f"ix_{name}_name", table.c.name)
    return table


jobs = _deployable("jobs", Column("job_id", Integer, primary_key=True, autoincrement=True),
                   sqlite_autoincrement=True)
serving_endpoints = _deployable("serving_endpoints", Column("id", String, primary_key=True))
quality_monitors = _deployable("quality_monitors", Column("id", String, primary_key=True))
uc_catalogs = _deployable("uc_catalogs", Column("id", String, primary_key=True))
uc_schemas = _deployable("uc_schemas", Column("id", String, primary_key=True))
uc_volumes = _deployable("uc_volumes", Column("id", String, primary_key=True))
mlflow_experiments = _deployable("mlflow_experiments", Column("id", String, primary_key=True))
mlflow_registered_models = _deployable("mlflow_registered_models",
                                       Column("id", String, primary_key=True))
