"""What task code sees at run time: ``dbutils``, ``display``, and the task process entry."""

from kiln.jobs.runtime.dbutils import DBUtils, NotebookExit, get_dbutils

__all__ = ["DBUtils", "NotebookExit", "get_dbutils"]
