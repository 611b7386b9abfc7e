"""Rules the Databricks CLI checks on particular resources, in its words (all errors):

- fields the deploy manages: a job's or pipeline's ``deployment.deployment_id`` and
  ``version_id``, a job run's ``idempotency_token``, dashboards' and Genie spaces' ``etag``,
  a volume's ``volume_path`` (computed here as ``/Volumes/<catalog>/<schema>/<name>``);
- names the APIs require although their schemas do not: a dashboard's ``display_name``
  and ``warehouse_id``, a SQL warehouse's ``name`` (blank counts as missing);
- a Genie space takes ``file_path`` or ``serialized_space``, not both; the file's content,
  or a space written inline as YAML, becomes ``serialized_space`` as a JSON string.
"""

from __future__ import annotations

import json
import os

from kiln.diag import Diagnostic, Location, Path, Severity
from kiln.bundle.dyn.value import Value, to_plain
from kiln.bundle.edit import edit_resources, get_str, resources, with_field
from kiln.bundle.refs import REF, parse_ref_path
from kiln.bundle.state import Loading

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
    if diags:
        return b, diags
    config = edit_resources(config, "volumes", _volume_path(config))
    try:
        config = edit_resources(config, "genie_spaces", lambda k, r: _serialized_space(b.root, k, r))
    except _Failed as e:
        return b, [e.diag]
    return b.with_config(config), []


class _Failed(Exception):
    def __init__(self, diag: Diagnostic) -> None:
        self.diag = diag


def _serialized_space(root: str, key: str, r: Value) -> Value:
    fp, space = r.get("file_path"), r.get("serialized_space")
    if fp is not None and isinstance(fp.v, str):
        rel = fp.v if os.path.isabs(fp.v) else os.path.normpath(os.path.join(
            os.path.dirname(fp.loc.file) if fp.loc.file else "", fp.v))
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
    if m is None:
        return text
    cur: Value | None = config
    for part in parse_ref_path(m.group(1)):
        cur = cur.get(part) if cur is not None and isinstance(part, str) else None
    return cur.v if cur is not None and isinstance(cur.v, str) else text


def _error(summary: str, loc: Location, path: Path) -> Diagnostic:
    return Diagnostic(Severity.ERROR, summary, locations=(loc,), paths=(path,))
