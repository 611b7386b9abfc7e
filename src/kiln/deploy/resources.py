"""The resources a bundle wants, in the shape the workspace stores them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiln.bundle.kinds import DEPLOYABLE
from kiln.diag import Diagnostic, Severity

# Creation order: containers before what they contain; jobs after what they may name.
ORDER = ("catalogs", "schemas", "volumes", "registered_models", "experiments", "jobs",
         "model_serving_endpoints", "quality_monitors")

# Fields whose change means a new object (the workspace keys these objects by them).
IMMUTABLE = {
    "catalogs": ("name", "storage_root"),
    "schemas": ("name", "catalog_name", "storage_root"),
    "volumes": ("name", "catalog_name", "schema_name", "volume_type", "storage_location"),
    "registered_models": ("name", "catalog_name", "schema_name"),
    "model_serving_endpoints": ("name",),
    "quality_monitors": ("table_name",),
}


@dataclass(frozen=True)
class Desired:
    rtype: str
    key: str
    settings: dict[str, Any]

    @property
    def address(self) -> str:
        return f"{self.rtype}.{self.key}"

    def name(self, settings: dict[str, Any] | None = None) -> str:
        s = self.settings if settings is None else settings
        if self.rtype == "quality_monitors":
            return str(s.get("table_name", self.key))
        return str(s.get("name", self.key))


def not_deployed(tree: dict[str, Any]) -> list[Diagnostic]:
    """A warning for each resource type of the bundle that deploy skips."""
    res = tree.get("resources") or {}
    return [Diagnostic(Severity.WARNING, f"kiln does not deploy {rtype} yet; skipped: "
                       + ", ".join(sorted(res[rtype])), paths=(("resources", rtype),))
            for rtype in sorted(res) if rtype not in DEPLOYABLE and res[rtype]]


def desired_resources(tree: dict[str, Any]) -> dict[str, Desired]:
    """``{"jobs.train": Desired(...), ...}`` for every resource kiln deploys."""
    out: dict[str, Desired] = {}
    res = tree.get("resources") or {}
    for rtype in ORDER:
        if rtype not in DEPLOYABLE:
            continue
        for key, settings in sorted((res.get(rtype) or {}).items()):
            d = Desired(rtype, key, settings or {})
            out[d.address] = d
    return out
