"""The bundle pipeline: each phase is only the ordered list of its steps.

Every step is a function ``Loading -> (Loading, diagnostics)``; the runner stops after the
first step that reports an error, so the tree it returns is "as far as processing got".
"""

from __future__ import annotations

from kiln.diag import Diagnostic, has_errors
from kiln.bundle.state import Loading, Step
from kiln.bundle.steps.alert_files import load_alert_files
from kiln.bundle.steps.basics import require_bundle_name
from kiln.bundle.steps.bundle_checks import check_bundle_settings, check_workspace_paths
from kiln.bundle.steps.check_schema import check_schema
from kiln.bundle.steps.defaults import annotate_deployment, default_names, default_settings
from kiln.bundle.steps.endpoints import served_models_to_entities
from kiln.bundle.steps.git import load_git
from kiln.bundle.steps.includes import process_includes
from kiln.bundle.steps.merge_keyed import merge_keyed
from kiln.bundle.steps.mode import apply_mode
from kiln.bundle.steps.permissions import apply_permissions
from kiln.bundle.steps.presets import apply_presets
from kiln.bundle.steps.resolve import resolve_references
from kiln.bundle.steps.resource_checks import check_resources
from kiln.bundle.steps.run_as import apply_run_as
from kiln.bundle.steps.select_target import select_target
from kiln.bundle.steps.translate_paths import translate_paths
from kiln.bundle.steps.validate import validate
from kiln.bundle.steps.uc_dependencies import capture_uc_dependencies
from kiln.bundle.steps.variables import set_variables
from kiln.bundle.steps.workspace import define_workspace

LOAD: tuple[Step, ...] = (process_includes, require_bundle_name)

INITIALIZE: tuple[Step, ...] = (
    select_target,
    check_bundle_settings,
    define_workspace,
    load_git,
    set_variables,
    resolve_references,
    check_workspace_paths,
    merge_keyed,
    capture_uc_dependencies,
    load_alert_files,
    default_names,
    apply_run_as,
    apply_mode,
    apply_presets,
    default_settings,
    served_models_to_entities,
    apply_permissions,
    check_schema,
    translate_paths,
    check_resources,
    validate,
    annotate_deployment,
)


def run_steps(state: Loading, steps: tuple[Step, ...]) -> tuple[Loading, list[Diagnostic], bool]:
    """(state, diagnostics, ok): runs until a step reports an error."""
    diags: list[Diagnostic] = []
    for step in steps:
        state, more = step(state)
        diags.extend(more)
        if has_errors(more):
            return state, diags, False
    return state, diags, True
