"""kiln: the Databricks MLOps lifecycle as open-source software that runs anywhere."""

__version__ = "0.1.0"

__all__ = ["__version__"]
