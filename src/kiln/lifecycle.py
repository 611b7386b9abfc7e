"""The model lifecycle for job tasks: validate a new version, deploy the champion.

    import kiln.lifecycle as lifecycle
    result = lifecycle.validate(model_uri, "dev.churn.validation", targets="churned",
                                model_type="classifier",
                                thresholds={"roc_auc": {"threshold": 0.7,
                                                        "min_absolute_change": 0.0,
                                                        "greater_is_better": True}})
    lifecycle.deploy("dev.churn.model", result.version)

Both work on the task's workspace (or a session bound with ``kiln env -t TARGET``).
"""

from kiln.models.lifecycle import (
    RUN_MODES,
    ValidationFailed,
    ValidationResult,
    deploy,
    parse_model_uri,
    validate,
)

__all__ = ["RUN_MODES", "ValidationFailed", "ValidationResult", "deploy", "parse_model_uri",
           "validate"]
