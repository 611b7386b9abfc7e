"""The estimator inside an MLflow pyfunc model, for the callers that may skip MLflow's
per-call wrapper (serving, models that look their features up)."""

from __future__ import annotations

from typing import Any


def sklearn_estimator(model: Any) -> Any:
    """The scikit-learn estimator itself when the pyfunc model is a plain sklearn
    ``predict`` (the same call MLflow's wrapper makes, without its per-call schema
    checks), else None."""
    flavors = model.metadata.flavors
    conf = flavors.get("python_function", {})
    if "sklearn" not in flavors or conf.get("predict_fn", "predict") != "predict":
        return None
    try:
        return model.get_raw_model()
    except Exception:  # noqa: BLE001 - older flavors
        return None


def takes_matrix(estimator: Any, columns: list[str]) -> bool:
    """Whether ``estimator`` may be given a float matrix of ``columns``, in that order: it
    was fitted on those names (or on none)."""
    names = getattr(estimator, "feature_names_in_", None)
    return estimator is not None and (names is None or list(names) == list(columns))
