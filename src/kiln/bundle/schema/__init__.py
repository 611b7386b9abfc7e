"""The bundle schema: pydantic models of ``databricks.yml`` as kiln understands it.

These models are the single source of the schema: normalization derives its type tree
from them (``kiln.bundle.normalize``), the typed ``Bundle`` is validated against them, and
``kiln bundle schema`` prints their JSON schema.
"""

from kiln.bundle.schema.resources import DEPLOYABLE, Resources
from kiln.bundle.schema.root import BundleConfig, Target, Variable

__all__ = ["DEPLOYABLE", "BundleConfig", "Resources", "Target", "Variable"]
