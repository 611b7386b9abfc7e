"""The catalog: three-level names for tables, volumes and models; tables are Delta tables."""

from kiln.catalog.names import FullName, parse_name
from kiln.catalog.tables import Catalog

__all__ = ["Catalog", "FullName", "parse_name"]
