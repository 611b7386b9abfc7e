"""Rules the Databricks CLI checks on particular resources, in its words (all errors):

- fields the deploy manages: a job's or pipeline's ``deployment.deployment_id`` and
  ``version_id``, a job run's ``idempotency_token``, dashboards' and Genie spaces' ``etag``,
  a volume's ``volume_path`` (computed here as ``/Volumes/<catalog>/<schema>/<name>``);
- names the APIs require although their schemas do not: a dashboard's ``display_name``
  and ``warehouse_id``, a SQL warehouse's ``name`` (blank counts as missing);
- an app has ``source_code_path`` or ``git_source`` (one, and not a path another app has);
  an app that uses a job (warehouse, endpoint, experiment) whose permissions the bundle
  sets is warned that its service principal needs a place in them;
- a Genie space takes ``file_path`` or ``serialized_space``, not both; the file's content,
  or a space written inline as YAML, becomes ``serialized_space`` as a JSON string.
"""

from __future__ import annotations

import json
import os
import re

from kiln.diag import Diagnostic, Location, Path, Severity, has_errors
from kiln.bundle.dyn.value import Value, get_path, to_plain
from kiln.bundle.edit import edit_resources, get_str, resources, with_field
from kiln.bundle.refs import REF, parse_ref_path
from kiln.bundle.state import Loading
from kiln.bundle.steps.translate_paths import root_relative

MANAGED = "it is managed by Declarative Automation Bundles"


def check_resources(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    config = b.config
    diags: list[Diagnostic] = []
    for rtype in ("jobs", "pipelines"):
        for key, r in resources(config, rtype):
            dep = r.get("deployment")
            for field in ("deployment_id", "version_id"):
                v = dep.get(field) if dep is not None and dep.is_map else None
                if v is not None and not v.is_nil:
                    diags.append(_error(f"{field} must not be set in bundle configuration; "
                                        f"{MANAGED}", v.loc,
                                        ("resources", rtype, key, "deployment", field)))
    for key, r in resources(config, "job_runs"):
        v = r.get("idempotency_token")
        if v is not None and not v.is_nil:
            diags.append(_error("idempotency_token must not be set in bundle configuration; "
                                "the CLI sets it on each run-now request", v.loc,
                                ("resources", "job_runs", key, "idempotency_token")))
    dashboards = list(resources(config, "dashboards"))
    for field in ("display_name", "warehouse_id"):
        missing = [(k, r) for k, r in dashboards if not get_str(r, field)]
        if missing:
            diags.append(Diagnostic(Severity.ERROR, f"dashboard {field} is required",
                                    locations=tuple(r.loc for _, r in missing),
                                    paths=tuple(("resources", "dashboards", k) for k, _ in missing)))
    for key, r in dashboards:
        if get_str(r, "etag"):
            diags.append(_error(f'dashboard "{get_str(r, "display_name") or ""}" has an etag set. '
                                "Etags must not be set in bundle configuration",
                                r.v["etag"].loc, ("resources", "dashboards", key, "etag")))
    for key, r in sorted(resources(config, "sql_warehouses")):
        if not (get_str(r, "name") or "").strip():
            diags.append(_error("sql_warehouse name is required", r.loc,
                                ("resources", "sql_warehouses", key)))
    for key, r in resources(config, "genie_spaces"):
        if r.get("file_path") is not None and r.get("serialized_space") is not None:
            diags.append(_error("both file_path and serialized_space are set; specify only one",
                                r.loc, ("resources", "genie_spaces", key)))
        if get_str(r, "etag"):
            diags.append(_error(f'genie space "{get_str(r, "title") or ""}" has an etag set. '
                                "Etags must not be set in bundle configuration",
                                r.v["etag"].loc, ("resources", "genie_spaces", key, "etag")))
    for key, r in resources(config, "volumes"):
        if get_str(r, "volume_path"):
            diags.append(_error(f"resources.volumes.{key}.volume_path is computed and "
                                "read-only; remove it from the configuration", r.loc,
                                ("resources", "volumes", key, "volume_path")))
    diags.extend(_apps(config))
    if has_errors(diags):
        return b, diags
    config = edit_resources(config, "volumes", _volume_path(config))
    try:
        config = edit_resources(config, "genie_spaces", lambda k, r: _serialized_space(b.root, k, r))
    except _Failed as e:
        return b, [e.diag]
    return b.with_config(config), diags


_APP_REFS = (("job", "id"), ("sql_warehouse", "id"), ("serving_endpoint", "name"),
             ("experiment", "experiment_id"))
_RESOURCE_REF = re.compile(r"^\$\{resources\.([^.}]+)\.([^.}]+)\.[^}]+\}$")


def _apps(config: Value) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    used: dict[str, str] = {}
    for key, app in resources(config, "apps"):
        src, git = get_str(app, "source_code_path"), app.get("git_source")
        has_git = git is not None and not git.is_nil
        if not src and not has_git:
            diags.append(Diagnostic(Severity.ERROR, "Missing app source code path or git source",
                                    f"app resource '{key}' should have either source_code_path "
                                    "or git_source field", locations=(app.loc,)))
            continue
        if src and has_git:
            diags.append(Diagnostic(Severity.ERROR, "Both source_code_path and git_source "
                                    "fields are set", f"app resource '{key}' should have either "
                                    "source_code_path or git_source field, not both",
                                    locations=(app.loc,)))
            continue
        if src in used:
            diags.append(Diagnostic(Severity.ERROR, "Duplicate app source code path",
                                    f"app resource '{key}' has the same source code path as app "
                                    f"resource '{used[src]}', this will lead to the app "
                                    "configuration being overridden by each other",
                                    locations=(app.v["source_code_path"].loc,)))
        used[src or ""] = key
        for ar in app.get("resources").v if app.get("resources") is not None and \
                app.v["resources"].is_seq else []:
            diags.extend(_app_resource_permissions(config, key, app, ar))
    return diags


def _app_resource_permissions(config: Value, key: str, app: Value, ar: Value) -> list[Diagnostic]:
    for kind, field in _APP_REFS:
        ref = ar.get(kind) if ar.is_map else None
        if ref is None or not ref.is_map:
            continue
        m = _RESOURCE_REF.match(get_str(ref, field) or "")
        if m is None:
            return []
        rtype, rkey = m.group(1), m.group(2)
        target = dict(resources(config, rtype)).get(rkey)
        perms = target.get("permissions") if target is not None else None
        if perms is None or not perms.is_seq or not perms.v:
            return []
        sp = f"${{resources.apps.{key}.service_principal_client_id}}"
        if any(get_str(p, "service_principal_name") == sp for p in perms.v):
            return []
        level = get_str(ref, "permission") or ""
        return [Diagnostic(
            Severity.WARNING,
            f'app "{key}" references {rtype} "{rkey}" which has permissions set. To prevent '
            "permission override after deploying the app, please add the app service "
            f"principal to the {rtype} permissions",
            f"Add the following section to the {rtype} permissions:\n\n  resources:\n"
            f"    {rtype}:\n      {rkey}:\n        permissions:\n          - level: {level}\n"
            f"            service_principal_name: {sp}\n",
            locations=(app.loc,), paths=(("resources", "apps", key),))]
    return []


class _Failed(Exception):
    def __init__(self, diag: Diagnostic) -> None:
        self.diag = diag


def _serialized_space(root: str, key: str, r: Value) -> Value:
    fp, space = r.get("file_path"), r.get("serialized_space")
    if fp is not None and isinstance(fp.v, str):
        rel = root_relative(fp).v
        try:
            with open(os.path.join(root, rel), encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise _Failed(_error(f"failed to read serialized genie space from file_path "
                                 f"{rel}: {e.strerror or e}", fp.loc,
                                 ("resources", "genie_spaces", key, "file_path"))) from e
        return with_field(r, "serialized_space", Value(text, fp.loc))
    if space is not None and (space.is_map or space.is_seq):
        text = json.dumps(to_plain(space), separators=(",", ":"), sort_keys=True)
        return with_field(r, "serialized_space", space.with_v(text))
    return r


def _volume_path(config: Value):  # type: ignore[no-untyped-def]
    def edit(_k: str, r: Value) -> Value:
        parts = [_resolved(config, get_str(r, f) or "") for f in ("catalog_name", "schema_name", "name")]
        return with_field(r, "volume_path", "/Volumes/" + "/".join(parts))

    return edit


def _resolved(config: Value, text: str) -> str:
    """A pure ``${resources...}`` reference to a field written in the bundle, else as is."""
    m = REF.fullmatch(text)
    found = get_path(config, parse_ref_path(m.group(1))) if m is not None else None
    return found.v if found is not None and isinstance(found.v, str) else text


def _error(summary: str, loc: Location, path: Path) -> Diagnostic:
    return Diagnostic(Severity.ERROR, summary, locations=(loc,), paths=(path,))
