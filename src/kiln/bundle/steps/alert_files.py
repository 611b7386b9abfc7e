"""SQL alerts defined in a ``.dbalert.json`` file, loaded as the Databricks CLI loads them.

An alert with ``file_path`` takes its definition from the file (relative to the YAML file
that names it; kept relative to the bundle root). The YAML may then set only
``warehouse_id``, ``display_name``, ``file_path``, ``permissions`` and ``lifecycle``; the
file may not hold ``${...}`` references. ``query_lines`` and ``custom_description_lines``
become ``query_text`` and ``custom_description`` (one line each, newline-terminated).
"""

from __future__ import annotations

import json
import os

from kiln.diag import Diagnostic, Severity
from kiln.bundle.dyn.value import Value, from_plain
from kiln.bundle.edit import edit_resources, get_str
from kiln.bundle.state import Loading
from kiln.bundle.steps.translate_paths import root_relative

ALLOWED_IN_YAML = ("warehouse_id", "display_name", "file_path", "permissions", "lifecycle")
_FROM_FILE = ("custom_summary", "schedule", "evaluation", "effective_run_as", "run_as",
              "run_as_user_name", "parent_path", "parameters", "create_time",
              "owner_user_name", "update_time", "lifecycle_state", "id")


class _Refused(Exception):
    def __init__(self, diag: Diagnostic) -> None:
        self.diag = diag


def load_alert_files(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    """The first problem stops (as in the CLI)."""
    try:
        return b.with_config(edit_resources(b.config, "alerts",
                                            lambda key, a: _from_file(b.root, key, a))), []
    except _Refused as e:
        return b, [e.diag]


def _from_file(root: str, key: str, alert: Value) -> Value:
    fp = alert.get("file_path")
    if fp is None or not get_str(alert, "file_path"):
        return alert
    path = ("resources", "alerts", key)
    for k, v in alert.v.items():
        if k not in ALLOWED_IN_YAML and not v.is_nil:
            raise _Refused(Diagnostic(
                Severity.ERROR, f"field {k} is not allowed in the bundle configuration.",
                "When a .dbalert.json is specified, only the following fields are allowed "
                "in the bundle configuration: " + ", ".join(ALLOWED_IN_YAML),
                locations=(v.loc,), paths=(path + (k,),)))
    rel = root_relative(fp).v

    def refused(summary: str, detail: str = "") -> _Refused:
        return _Refused(Diagnostic(Severity.ERROR, summary, detail, locations=(fp.loc,),
                                   paths=(path + ("file_path",),)))

    try:
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            text = f.read()
        doc = json.loads(text)
    except OSError as e:
        raise refused(f"failed to read .dbalert.json file {rel}: {e.strerror or e}") from None
    except ValueError as e:
        raise refused(f"failed to parse .dbalert.json file {rel}: {e}") from None
    if "${" in text:
        raise refused(f".alert file {rel} must not contain variable interpolations.",
                      "Please inline the alert configuration in the bundle configuration to "
                      "use variables")
    new = {k: v for k, v in alert.v.items() if k in ALLOWED_IN_YAML}
    new["file_path"] = fp.with_v(rel)
    for field, lines in (("query_text", "query_lines"),
                         ("custom_description", "custom_description_lines")):
        if doc.get(lines):
            new[field] = Value("".join(f"{line}\n" for line in doc[lines]), fp.loc)
    for field in _FROM_FILE:
        if doc.get(field) not in (None, "", [], {}):
            new[field] = from_plain(doc[field], fp.loc)
    return Value(new, alert.loc, alert.kloc)
