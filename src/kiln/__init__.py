"""kiln: the Databricks MLOps lifecycle as open-source software that runs anywhere."""

__version__ = "0.1.0"

__all__ = ["__version__", "sql"]


def sql(query: str):  # type: ignore[no-untyped-def]
    """Run SQL over the workspace catalog's tables (see ``kiln.tables``)."""
    from kiln.tables import sql as run

    return run(query)
