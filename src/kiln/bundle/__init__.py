"""The bundle engine: ``databricks.yml`` (+ includes) → a resolved, typed ``Bundle``.

Pure apart from reading the bundle's own files: no workspace, no network.
"""

from kiln.bundle.context import LoadContext, Lookups, Profile
from kiln.bundle.load import Bundle, LoadResult, load_bundle, load_bundle_at
from kiln.bundle.root import ROOT_FILE_NAMES, find_root

__all__ = [
    "ROOT_FILE_NAMES",
    "Bundle",
    "LoadContext",
    "LoadResult",
    "Lookups",
    "Profile",
    "find_root",
    "load_bundle",
    "load_bundle_at",
]
