"""The champion/challenger lifecycle, as a library for job tasks (``kiln.lifecycle``).

``validate`` evaluates a new model version with ``mlflow.models.evaluate``, checks it
against absolute thresholds and against the current champion (MLflow's
``MetricThreshold``), records the outcome on the version and, when it passes, makes it the
``challenger``. ``deploy`` makes a validated challenger the ``champion``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from kiln.errors import KilnError
from kiln.models.registry import Registry, model_name

RUN_MODES = ("disabled", "dry_run", "enabled")
STATUS = "kiln.validation.status"  # passed | failed | disabled
# the tag validation notebooks written for Databricks set (PASSED | FAILED | PENDING)
PORTABLE_STATUS = "model_validation_status"


def validation_status(tags: dict[str, str] | None) -> str | None:
    """A version's validation outcome: kiln's own record, else the portable tag that a
    plain-MLflow validation notebook sets (lower-cased)."""
    tags = tags or {}
    if tags.get(STATUS):
        return tags[STATUS]
    portable = tags.get(PORTABLE_STATUS)
    return portable.lower() if portable else None


class ValidationFailed(KilnError):
    """The candidate did not meet the thresholds (raised in ``enabled`` run mode)."""


@dataclass
class ValidationResult:
    name: str
    version: str
    status: str  # passed | failed | disabled
    run_mode: str
    metrics: dict[str, float] = field(default_factory=dict)
    baseline_version: str | None = None
    baseline_metrics: dict[str, float] = field(default_factory=dict)
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


class Models(Protocol):
    """What the lifecycle asks of the registry: reading versions, and the two decisions
    (recording a validation, deploying), which the registry makes under its own rules."""

    def resolve(self, name: str, version: str | None = None,
                alias: str | None = None) -> tuple[str, str]:
        """(the model's name, the version's number) of a version, by number or alias."""

    def by_alias(self, name: str, alias: str) -> str | None:
        """The version ``alias`` points at, or None."""

    def record_validation(self, result: ValidationResult, checked: list[str] | None) -> None:
        ...

    def deploy(self, name: str, version: int | str, alias: str, force: bool,
               reason: str) -> str | None: ...


class RegistryModels:
    """The lifecycle's calls on a workspace's registry, in this process."""

    def __init__(self, reg: Registry) -> None:
        self.reg = reg

    def resolve(self, name: str, version: str | None = None,
                alias: str | None = None) -> tuple[str, str]:
        mv = self.reg.resolve(name, **({"version": version} if version else {}),
                              **({"alias": alias} if alias else {}))
        return str(mv.name), str(mv.version)

    def by_alias(self, name: str, alias: str) -> str | None:
        mv = self.reg.by_alias(name, alias)
        return str(mv.version) if mv is not None else None

    def record_validation(self, result: ValidationResult, checked: list[str] | None) -> None:
        record_validation(self.reg, result, checked)

    def deploy(self, name: str, version: int | str, alias: str, force: bool,
               reason: str) -> str | None:
        return deploy_version(self.reg, name, version, alias, force, reason)


def validate(model_uri: str, data: Any, targets: str, model_type: str = "classifier",
             thresholds: dict[str, Any] | None = None, baseline_alias: str | None = "champion",
             run_mode: str = "enabled", evaluator_config: dict[str, Any] | None = None,
             registry: Registry | None = None) -> ValidationResult:
    """Validate a registered model version (``models:/cat.sch.model/3`` or ``@alias``).

    ``data`` is a pandas DataFrame or a table name (read from the catalog, recorded as
    lineage); ``thresholds`` maps metric names to ``mlflow.models.MetricThreshold`` or to
    dicts of its arguments (``threshold``, ``min_absolute_change``,
    ``min_relative_change``, ``greater_is_better``).
    """
    if run_mode not in RUN_MODES:
        raise KilnError(f"run_mode must be one of {', '.join(RUN_MODES)}, got {run_mode!r}")
    models = RegistryModels(registry) if registry is not None else _models()
    name, ref = parse_model_uri(model_uri)
    name, version = models.resolve(name, **ref)
    if run_mode == "disabled":
        result = ValidationResult(name, version, "disabled", run_mode,
                                  message="validation disabled by run_mode")
        models.record_validation(result, None)
        return result
    frame = _frame(data)
    if targets not in frame.columns:
        raise KilnError(f"the validation data has no target column {targets!r} (columns: "
                        f"{', '.join(map(str, frame.columns))})")
    checks = _thresholds(thresholds or {})
    config = {"log_model_explainability": False, **(evaluator_config or {})}
    candidate = _evaluate(f"models:/{name}/{version}", frame, targets, model_type, config,
                          f"validate {name} v{version}")
    baseline = models.by_alias(name, baseline_alias) if baseline_alias else None
    if baseline == version:
        baseline = None  # re-validating the champion itself: absolute thresholds only
    base_metrics: dict[str, float] = {}
    if baseline is not None:
        base_metrics = _evaluate(f"models:/{name}/{baseline}", frame, targets,
                                 model_type, config, f"baseline {name} v{baseline}")
    message = _check(checks, candidate, base_metrics)
    result = ValidationResult(name, version, "failed" if message else "passed", run_mode,
                              candidate, baseline, base_metrics, message or "all thresholds met")
    models.record_validation(result, sorted(checks))
    if not result.passed and run_mode == "enabled":
        raise ValidationFailed(f"version {version} of {name} failed validation: {message}")
    return result


def record_validation(reg: Registry, result: ValidationResult,
                      checked: list[str] | None) -> None:
    """Keep a validation's outcome on its version (tags, audited); a version that passed
    becomes the ``challenger``."""
    _record(reg, result, checked)
    if result.passed:
        reg.set_alias(result.name, "challenger", result.version, reason="validation passed")


def deploy(name: str, version: int | str, *, alias: str = "champion", force: bool = False,
           reason: str = "", registry: Registry | None = None) -> str | None:
    """Make a validated version the ``champion`` (the alias moves in one step and the
    version loses ``challenger``); the previous champion's version, if any."""
    models = RegistryModels(registry) if registry is not None else _models()
    return models.deploy(name, version, alias, force, reason)


def deploy_version(reg: Registry, name: str, version: int | str, alias: str, force: bool,
                   reason: str) -> str | None:
    """``deploy``, by the registry: the validation gate, then the alias."""
    mv = reg.version(name, version)
    state = validation_status(mv.tags)
    if state != "passed" and not force:
        raise KilnError(f"version {mv.version} of {mv.name} has not passed validation "
                        f"(status: {state or 'not validated'}); refusing to make it @{alias}",
                        detail="Validate it with kiln.lifecycle.validate, or deploy anyway "
                               "with force=True (--force) and a reason.")
    previous = reg.set_alias(mv.name, alias, mv.version, reason=reason or
                             ("forced" if force and state != "passed" else "validated"),
                             remove=("challenger",))
    reg.set_version_tags(mv.name, mv.version, {
        "kiln.deployed_by": reg.ws.current_user(),
        "kiln.deployed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "kiln.deploy_reason": reason, "kiln.deploy_forced": str(force and state != "passed"
                                                                ).lower()})
    return previous


def parse_model_uri(uri: str) -> tuple[str, dict[str, Any]]:
    """``models:/name/3`` → (name, {version: 3}); ``models:/name@alias`` → {alias}."""
    m = re.match(r"^models:/([^/@]+)(?:/(\d+)|@([A-Za-z_][\w-]*))?$", uri or "")
    if not m:
        raise KilnError(f"invalid model URI {uri!r}: use models:/catalog.schema.model/VERSION "
                        "or models:/catalog.schema.model@ALIAS")
    name = model_name(m.group(1))
    if m.group(2):
        return name, {"version": m.group(2)}
    if m.group(3):
        return name, {"alias": m.group(3)}
    return name, {}


def _models() -> Models:
    """The registry of this task's workspace, through the task's client."""
    from kiln.workspace.task_client import task_client

    return task_client().models()


def _frame(data: Any) -> Any:
    import pandas as pd

    if isinstance(data, str):
        import kiln.tables

        return kiln.tables.read(data)
    if isinstance(data, pd.DataFrame):
        return data
    raise KilnError(f"validation data must be a pandas DataFrame or a table name, got "
                    f"{type(data).__name__}")


def _thresholds(spec: dict[str, Any]) -> dict[str, Any]:
    from mlflow.models import MetricThreshold

    out = {}
    for metric, t in spec.items():
        if isinstance(t, MetricThreshold):
            out[metric] = t
        elif isinstance(t, dict):
            try:
                out[metric] = MetricThreshold(**t)
            except Exception as e:  # noqa: BLE001 - MLflow raises several kinds for bad arguments
                raise KilnError(f"invalid threshold for {metric}: {e}") from None
        else:
            raise KilnError(f"threshold for {metric} must be a MetricThreshold or a dict")
    return out


def _evaluate(uri: str, frame: Any, targets: str, model_type: str,
              config: dict[str, Any], run_name: str) -> dict[str, float]:
    import mlflow

    nested = mlflow.active_run() is not None
    columns = _input_columns(uri)
    if columns:  # the data may carry ids and other columns the model does not take
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise KilnError(f"the validation data lacks the model's input columns "
                            f"{', '.join(missing)} ({uri})")
        frame = frame[[*columns, targets]]
    with mlflow.start_run(run_name=run_name, nested=nested):
        result = mlflow.models.evaluate(uri, frame, targets=targets, model_type=model_type,
                                        evaluators="default", evaluator_config=config)
    return {k: float(v) for k, v in result.metrics.items() if isinstance(v, (int, float))}


def _input_columns(uri: str) -> list[str]:
    """The named inputs of the model's signature (empty when it has none)."""
    from mlflow.models import get_model_info

    signature = get_model_info(uri).signature
    if signature is None or signature.inputs is None or not signature.inputs.has_input_names():
        return []
    return list(signature.inputs.input_names())


def _check(checks: dict[str, Any], candidate: dict[str, float],
           baseline: dict[str, float]) -> str:
    """What failed ('' when everything passed), in MLflow's words."""
    if not checks:
        return ""
    import mlflow
    from mlflow.models import EvaluationResult, MetricThreshold
    from mlflow.models.evaluation.validation import ModelValidationFailedException

    missing = [m for m in checks if m not in candidate]
    if missing:
        return (f"metric {', '.join(missing)} was not computed (computed: "
                f"{', '.join(sorted(candidate))})")
    if not baseline:  # no champion yet: only the absolute thresholds apply
        checks = {m: MetricThreshold(threshold=t.threshold,
                                     greater_is_better=t.greater_is_better)
                  for m, t in checks.items() if t.threshold is not None}
        if not checks:
            return ""
    try:
        mlflow.validate_evaluation_results(
            checks, EvaluationResult(candidate, {}),
            EvaluationResult(baseline, {}) if baseline else None)
    except ModelValidationFailedException as e:
        return " ".join(str(e.message).split())
    return ""


def _record(reg: Registry, r: ValidationResult, checked: list[str] | None = None) -> None:
    tags = {STATUS: r.status, "kiln.validation.run_mode": r.run_mode,
            "kiln.validation.message": r.message[:4000],
            "kiln.validation.at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "kiln.validation.baseline_version": r.baseline_version or "",
            "kiln.validation.metrics": json.dumps(
                {k: r.metrics[k] for k in sorted(r.metrics)
                 if checked is None or k in checked or not checked})[:4000]}
    reg.set_version_tags(r.name, r.version, tags)
    reg.ws.audit("models.validate", r.name, {"version": r.version, "status": r.status,
                                             "run_mode": r.run_mode, "message": r.message})
