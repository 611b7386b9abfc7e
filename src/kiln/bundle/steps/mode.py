"""``mode: development`` and ``mode: production``.

Development turns on presets (name prefix ``[dev <short_name>] ``, tag ``dev``, paused
schedules and triggers, ``max_concurrent_runs`` 4, development pipelines) and turns the
deployment lock off unless it is set; it requires a root path unique to the user, and
refuses presets that unpause triggers.
Production requires an explicit ``workspace.root_path`` (only a recommendation when every
job runs as a fixed identity) and no development pipelines.
"""

from __future__ import annotations

from kiln.diag import Diagnostic, Severity
from kiln.bundle.dyn.value import NIL_LOC, Value, get_path, set_path
from kiln.bundle.edit import get_str, resources
from kiln.bundle.state import Loading


def apply_mode(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    mode = get_str(b.config, "bundle", "mode")
    if mode == "development":
        return _development(b)
    if mode == "production":
        return b, _production(b)
    return b, []


def _development(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    config = b.config
    user = get_str(config, "workspace", "current_user", "userName") or ""
    short = get_str(config, "workspace", "current_user", "short_name") or ""

    presets = config.get("presets")
    p = dict(presets.v) if presets is not None and presets.is_map else {}
    pause = p.get("trigger_pause_status")
    if pause is not None and pause.v == "UNPAUSED":  # everyone expects a dev copy paused
        diags.append(Diagnostic(Severity.ERROR, "target with 'mode: development' cannot set "
                                "trigger pause status to UNPAUSED by default",
                                locations=(pause.loc,),
                                paths=(("presets", "trigger_pause_status"),)))
    if p.get("name_prefix") is None:
        p["name_prefix"] = Value(f"[dev {short}] ")
    tags = dict(p["tags"].v) if p.get("tags") is not None and p["tags"].is_map else {}
    tags.setdefault("dev", Value(short))
    p["tags"] = Value(tags)
    for key, val in (("trigger_pause_status", "PAUSED"), ("jobs_max_concurrent_runs", 4),
                     ("pipelines_development", True)):
        if p.get(key) is None:
            p[key] = Value(val)
    config = set_path(config, ("presets",), Value(p, presets.loc if presets else NIL_LOC,
                                                  presets.kloc if presets else None))

    lock = get_path(config, ("bundle", "deployment", "lock", "enabled"))
    if lock is None or lock.is_nil:
        config = set_path(config, ("bundle", "deployment", "lock", "enabled"), Value(False))

    root = get_path(config, ("workspace", "root_path"))
    if root is not None and isinstance(root.v, str) and user not in root.v and short not in root.v:
        diags.append(Diagnostic(
            Severity.ERROR,
            "root_path must start with '~/' or contain the current username to ensure "
            "uniqueness when using 'mode: development'",
            locations=(root.loc,) if root.loc != NIL_LOC else (),
            paths=(("workspace", "root_path"),)))
    return b.with_config(config), diags


def _production(b: Loading) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    config = b.config
    root = get_path(config, ("workspace", "root_path"))
    mode_v = get_path(config, ("bundle", "mode"))
    explicit = root is not None and root.loc != NIL_LOC
    if not explicit:
        top_run_as = config.get("run_as")
        jobs = list(resources(config, "jobs"))
        all_run_as = (top_run_as is not None and not top_run_as.is_nil) or (
            bool(jobs) and all(j.get("run_as") is not None for _, j in jobs))
        summary = ("target with 'mode: production' must set 'workspace.root_path' to make "
                   "sure only one copy is deployed")
        detail = ("A common practice is to use a username or principal name in this path, "
                  "i.e. root_path: /Workspace/Users/${workspace.current_user.userName}"
                  "/.bundle/${bundle.name}/${bundle.target}")
        diags.append(Diagnostic(Severity.RECOMMENDATION if all_run_as else Severity.ERROR,
                                summary, detail,
                                locations=(mode_v.loc,) if mode_v is not None else (),
                                paths=(("bundle", "mode"),)))
    for key, p in resources(config, "pipelines"):
        dev = p.get("development")
        if dev is not None and dev.v is True:
            diags.append(Diagnostic(
                Severity.ERROR,
                "target with 'mode: production' cannot include a pipeline with 'development: true'",
                locations=(dev.loc,), paths=(("resources", "pipelines", key, "development"),)))
    return diags


__all__ = ["apply_mode"]
