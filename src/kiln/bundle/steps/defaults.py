"""The defaults the Databricks CLI fills in, so the resolved tree says what will deploy.

Jobs: ``name`` "Untitled" (before presets prefix it), ``max_concurrent_runs`` 1,
``queue.enabled`` true, ``UNPAUSED`` schedules and triggers where the pause status is
still unset, ``edit_mode`` UI_LOCKED and the bundle ``deployment`` marker.
"""

from __future__ import annotations

from kiln.diag import Diagnostic
from kiln.bundle.dyn.value import Value
from kiln.bundle.edit import edit_field, edit_resources, get_str, set_default
from kiln.bundle.state import Loading


def default_names(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    config = edit_resources(b.config, "jobs", lambda _k, r: set_default(r, "name", "Untitled"))
    return b.with_config(config), []


def default_settings(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    state_path = get_str(b.config, "workspace", "state_path") or ""

    def job(_k: str, r: Value) -> Value:
        r = set_default(r, "max_concurrent_runs", 1)
        r = set_default(r, "queue", {"enabled": True})
        for key in ("schedule", "trigger", "continuous"):
            r = edit_field(r, key, lambda s: set_default(s, "pause_status", "UNPAUSED"))
        r = set_default(r, "edit_mode", "UI_LOCKED")
        r = set_default(r, "deployment", {"kind": "BUNDLE",
                                          "metadata_file_path": state_path + "/metadata.json"})
        r = set_default(r, "format", "MULTI_TASK")
        return r

    return b.with_config(edit_resources(b.config, "jobs", job)), []
