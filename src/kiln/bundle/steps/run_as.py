"""``run_as``: the one identity the bundle's jobs and pipelines run as, by the Databricks
CLI's rules.

The section names exactly one identity (``user_name`` or ``service_principal_name``).
When it is not the deploying user, resources whose runs cannot take another identity are
errors: model serving endpoints, quality monitors, dashboards with ``embed_credentials``
and apps. Then every job and pipeline without a ``run_as`` of its own gets the bundle's.
With ``experimental.use_legacy_run_as`` only jobs get it (and pipelines get the identity
as owner), with the CLI's warning.
"""

from __future__ import annotations

from kiln.diag import Diagnostic, Location, Severity
from kiln.bundle.dyn.value import Value, from_plain
from kiln.bundle.edit import edit_resources, get_str, resources, with_field
from kiln.bundle.state import Loading

_NOT_SUPPORTED = ("model_serving_endpoints", "quality_monitors", "apps")
LEGACY_WARNING = (
    "You are using the legacy mode of run_as. The support for this mode is experimental "
    "and might be removed in a future release of the CLI. In order to run the pipelines in "
    "your DABs project as the run_as user this mode changes the owners of the pipelines to "
    "the run_as identity, which requires the user deploying the bundle to be a workspace "
    "admin, and also a Metastore admin if the pipeline target is in UC.")


def apply_run_as(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    config = b.config
    section = config.get("run_as")
    if section is None or section.is_nil:  # ``run_as:`` with nothing: not set
        return b, []
    user = get_str(section, "user_name") or ""
    sp = get_str(section, "service_principal_name") or ""
    identity = {k: v for k, v in (("service_principal_name", sp), ("user_name", user)) if v}
    legacy = config.get("experimental")
    legacy_v = legacy.get("use_legacy_run_as") if legacy is not None and legacy.is_map else None
    if legacy_v is not None and legacy_v.v is True:
        config = edit_resources(config, "jobs", _give(identity))
        me = get_str(config, "workspace", "current_user", "userName") or ""
        if me not in (user, sp):
            config = edit_resources(config, "pipelines", _owned_by(identity))
        return b.with_config(config), [Diagnostic(
            Severity.WARNING, LEGACY_WARNING, locations=(legacy_v.loc,),
            paths=(("experimental", "use_legacy_run_as"),))]
    if not identity:
        return b, [_error("run_as section must specify exactly one identity. Neither "
                          "service_principal_name nor user_name is specified", section.loc)]
    diags = []
    if user and sp:
        diags.append(_error("run_as section cannot specify both user_name and "
                            "service_principal_name", section.loc))
    who = sp or user
    me = get_str(config, "workspace", "current_user", "userName") or ""
    if who != me:
        res = config.get("resources")
        for rtype in _NOT_SUPPORTED:
            group = res.get(rtype) if res is not None and res.is_map else None
            if group is not None and group.is_map and group.v:
                diags.append(_not_supported(rtype, group.loc, me, who))
        for key, dash in resources(config, "dashboards"):
            embed = dash.get("embed_credentials")
            if embed is not None and embed.v is True:
                diags.append(_not_supported("dashboards with embed_credentials set to true",
                                            dash.loc, me, who))
    if any(d.severity is Severity.ERROR for d in diags):
        return b, diags
    for rtype in ("jobs", "pipelines", "alerts"):
        config = edit_resources(config, rtype, _give(identity))
    return b.with_config(config), diags


def _give(identity: dict[str, str]):  # type: ignore[no-untyped-def]
    def edit(key: str, r: Value) -> Value:
        return r if r.get("run_as") is not None else with_field(r, "run_as", from_plain(identity, r.loc))

    return edit


def _owned_by(identity: dict[str, str]):  # type: ignore[no-untyped-def]
    """Legacy mode: the run_as identity owns each pipeline (its other entries go)."""
    def edit(key: str, r: Value) -> Value:
        perms = r.get("permissions")
        keep = [p for p in (perms.v if perms is not None and perms.is_seq else [])
                if not any(p.is_map and get_str(p, k) == v for k, v in identity.items())]
        owner = from_plain({"level": "IS_OWNER", **identity}, r.loc)
        return with_field(r, "permissions", Value(keep + [owner], r.loc))

    return edit


def _error(summary: str, loc: Location) -> Diagnostic:
    return Diagnostic(Severity.ERROR, summary, locations=(loc,), paths=(("run_as",),))


def _not_supported(what: str, loc: Location, me: str, who: str) -> Diagnostic:
    return Diagnostic(Severity.ERROR,
                      f"{what} do not support a setting a run_as user that is different from "
                      f"the owner.\nCurrent identity: {me}. Run as identity: {who}.\nSee "
                      "https://docs.databricks.com/dev-tools/bundles/run-as.html to learn "
                      "more about the run_as property.", locations=(loc,))
