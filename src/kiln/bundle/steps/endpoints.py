"""Model serving endpoints as the Databricks CLI prepares them: ``served_models`` (the
deprecated form) becomes ``served_entities`` with a warning, and an endpoint may not use
both."""

from __future__ import annotations

from kiln.diag import Diagnostic, Severity
from kiln.bundle.dyn.value import Value
from kiln.bundle.edit import edit_resources
from kiln.bundle.state import Loading

_RENAMED = {"model_name": "entity_name", "model_version": "entity_version"}
_KEPT = ("environment_vars", "instance_profile_arn", "max_provisioned_throughput",
         "min_provisioned_throughput", "name", "provisioned_model_units",
         "scale_to_zero_enabled", "workload_size", "workload_type",
         "max_provisioned_concurrency", "min_provisioned_concurrency")


def served_models_to_entities(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    diags: list[Diagnostic] = []

    def fix(key: str, ep: Value) -> Value:
        cfg = ep.get("config")
        models = cfg.get("served_models") if cfg is not None and cfg.is_map else None
        if models is None or not models.is_seq or not models.v:
            return ep
        entities = cfg.get("served_entities")  # type: ignore[union-attr]
        if entities is not None and entities.is_seq and entities.v:
            diags.append(Diagnostic(Severity.ERROR, "Cannot use both served_models and "
                                    "served_entities", "Model serving endpoint cannot specify "
                                    "both served_models and served_entities at the same time.",
                                    locations=(ep.loc,)))
            return ep
        diags.append(Diagnostic(Severity.WARNING, "Using served_models is deprecated",
                                "The served_models field is deprecated. Please use "
                                "served_entities instead.", locations=(models.loc,)))
        converted = []
        for m in models.v:
            if not m.is_map:
                continue
            fields = {_RENAMED.get(k, k): v for k, v in m.v.items() if k in _RENAMED or k in _KEPT}
            converted.append(Value(dict(sorted(fields.items())), m.loc, m.kloc))
        new_cfg = {k: v for k, v in cfg.v.items() if k != "served_models"}  # type: ignore[union-attr]
        new_cfg["served_entities"] = Value(converted, models.loc, models.kloc)
        return Value({**ep.v, "config": Value(new_cfg, cfg.loc, cfg.kloc)}, ep.loc, ep.kloc)  # type: ignore[union-attr]

    config = edit_resources(b.config, "model_serving_endpoints", fix)
    return b.with_config(config), diags
