"""The job engine: runs of multi-task jobs, with the Databricks Jobs semantics."""
