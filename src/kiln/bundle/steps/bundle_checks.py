"""Checks of the bundle's own settings that the Databricks CLI makes as its first steps
after choosing the target (before any variable has a value), in its words:

- a ``${...}`` reference in ``bundle.name`` is a warning (the name is part of where the
  bundle's state lives);
- ``bundle.engine`` is ``terraform`` (deprecated: a warning) or ``direct``. kiln deploys
  with its own engine whatever it says; the setting is checked so that a bundle moves
  between kiln and the CLI unchanged.
"""

from __future__ import annotations

from kiln.diag import Diagnostic, Severity
from kiln.bundle.state import Loading

NAME_WARNING = (
    "Please do not use variable interpolation in the name of your bundle. The name of your "
    "bundle\nis a part of the path at which your bundle state is stored at by default. "
    "Parameterizing it at\nruntime can have unexpected consequences like duplicate "
    "deployments or resources not being\ncleaned up during bundle destroy.")
ENGINES = ("terraform", "direct")


def check_bundle_settings(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    diags = []
    bundle = b.config.get("bundle")
    name = bundle.get("name") if bundle is not None else None
    if name is not None and isinstance(name.v, str) and "${" in name.v:
        diags.append(Diagnostic(Severity.WARNING, NAME_WARNING, locations=(name.loc,),
                                paths=(("bundle", "name"),)))
    engine = bundle.get("engine") if bundle is not None else None
    if engine is not None and engine.v not in (None, ""):
        if engine.v not in ENGINES:
            diags.append(Diagnostic(Severity.ERROR, f'invalid value "{engine.v}" for '
                                    'bundle.engine (expected "terraform" or "direct")',
                                    locations=(engine.loc,)))
        elif engine.v == "terraform":
            diags.append(Diagnostic(Severity.WARNING, "the terraform deployment engine is "
                                    "deprecated and will stop working in a future version of "
                                    "the CLI", locations=(engine.loc,)))
    return b, diags


def check_workspace_paths(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    """``/Volumes/...`` may hold the artifacts only (the CLI's ``validate:volume-path``)."""
    ws = b.config.get("workspace")
    for field in ("root_path", "file_path", "state_path", "resource_path"):
        v = ws.get(field) if ws is not None else None
        if v is None or not isinstance(v.v, str) or not v.v.startswith("/Volumes/"):
            continue
        return b, [Diagnostic(Severity.ERROR, f"workspace.{field} {v.v} starts with /Volumes. "
                              "/Volumes can only be used with workspace.artifact_path.",
                              locations=(v.loc,), paths=(("workspace", field),))]
    return b, []
