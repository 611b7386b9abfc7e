"""Names of things bundles contain, shared by the schema models and the pipeline steps."""

TASK_TYPES = (
    "notebook_task", "spark_python_task", "python_wheel_task", "condition_task",
    "run_job_task", "for_each_task", "sql_task", "pipeline_task", "dbt_task",
    "spark_jar_task", "spark_submit_task", "dashboard_task", "clean_rooms_notebook_task",
)

# Resource types kiln deploys; the others validate but are skipped (with a warning).
DEPLOYABLE = frozenset({
    "jobs", "experiments", "registered_models", "model_serving_endpoints",
    "quality_monitors", "catalogs", "schemas", "volumes",
})
