"""Checks of the bundle's own settings that the Databricks CLI makes as its first steps
after choosing the target (before any variable has a value), in its words:

- a ``${...}`` reference in ``bundle.name`` is a warning (the name is part of where the
  bundle's state lives);
- ``bundle.engine`` is ``terraform`` (deprecated: a warning) or ``direct``. kiln deploys
  with its own engine whatever it says; the setting is checked so that a bundle moves
  between kiln and the CLI unchanged;
- ``scripts``: each has ``content`` without ``${...}`` (the shell would see it), and its
  ``env`` references only what is known before scripts run (bundle, workspace, variables).
"""

from __future__ import annotations

from kiln.diag import Diagnostic, Severity
from kiln.bundle.dyn.value import Value
from kiln.bundle.refs import REF
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
    return b, diags + _scripts(b.config)


_SCRIPT_REF_PREFIXES = ("bundle", "workspace", "var", "variables")


def _scripts(config: Value) -> list[Diagnostic]:
    scripts = config.get("scripts")
    if scripts is None or not scripts.is_map:
        return []
    diags = []
    for key in sorted(scripts.v):
        script = scripts.v[key]
        content = script.get("content") if script.is_map else None
        path = ("scripts", key, "content")
        if content is None or not isinstance(content.v, str) or not content.v:
            diags.append(Diagnostic(Severity.ERROR, f"Script {key} has no content", paths=(path,)))
            continue
        m = REF.search(content.v)
        if m is not None:
            diags.append(Diagnostic(
                Severity.ERROR, f"Found {m.group(0)} in script {key}.content. Interpolation "
                "syntax ${...} is not supported in script content",
                "Declare an environment variable in the script's env: section and use it "
                "in content as $NAME.", locations=(content.loc,), paths=(path,)))
        env = script.get("env")
        for name in sorted(env.v) if env is not None and env.is_map else []:
            value = env.v[name]
            for ref in REF.finditer(value.v) if isinstance(value.v, str) else ():
                if ref.group(1).split(".", 1)[0] not in _SCRIPT_REF_PREFIXES:
                    diags.append(Diagnostic(
                        Severity.ERROR, f"{ref.group(0)} cannot be used in scripts.{key}.env."
                        f"{name}; only ${{bundle.*}}, ${{workspace.*}}, and ${{var.*}} are "
                        "resolved before scripts execute", locations=(value.loc,),
                        paths=(("scripts", key, "env", name),)))
    return diags


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
