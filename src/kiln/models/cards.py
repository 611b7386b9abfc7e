"""Model cards: what a reviewer needs to know about one model version, in one page.

The governance facts (owner, use case, limitations, ethical considerations) come from a
``governance`` block: tags ``governance.<field>`` on the training run (set by training
code), a fenced block in the registered model's description::

    ```governance
    owner: churn-team@example.com
    use_case: Rank customers by churn risk for the retention campaign.
    ```

or ``governance.<field>`` tags on the registered model or the version (later ones win).
"""

from __future__ import annotations

import html
import json
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from kiln.errors import NotFound
from kiln.models import approvals
from kiln.models.promotion import ORIGIN, training_inputs
from kiln.models.registry import Registry

GOVERNANCE = ("owner", "use_case", "limitations", "ethical_considerations")
_BLOCK = re.compile(r"```governance\s*\n(.*?)```", re.DOTALL)


@dataclass
class ModelCard:
    name: str
    version: str
    description: str
    aliases: list[str]
    governance: dict[str, str]
    metrics: dict[str, float]
    validation: dict[str, str]
    training_data: list[dict[str, str]]
    training_run: dict[str, str]
    approvals: list[dict[str, Any]]
    alias_history: list[dict[str, Any]] = field(default_factory=list)
    replay: dict[str, str] = field(default_factory=dict)
    features: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build(reg: Registry, name: str, version: int | str | None = None) -> ModelCard:
    mv = reg.resolve(name, version)
    model = reg.model(mv.name)
    run = None
    if mv.run_id:
        try:
            run = reg.run(mv.run_id)
        except NotFound:  # the run was deleted
            run = None
    tags = dict(mv.tags or {})
    governance = _governance(run.data.tags if run else {}, model.description or "",
                             dict(model.tags or {}), tags)
    try:
        validation_metrics = json.loads(tags.get("kiln.validation.metrics") or "{}")
    except ValueError:
        validation_metrics = {}
    metrics = {**(run.data.metrics if run else {}), **validation_metrics}
    aliases = sorted(a for a, v in (model.aliases or {}).items() if str(v) == str(mv.version))
    history = [e for e in reversed(reg.ws.audit_log(limit=1000, target=mv.name))
               if e["action"] in ("models.set_alias", "models.delete_alias", "models.promote")]
    return ModelCard(
        name=mv.name, version=str(mv.version),
        description=_BLOCK.sub("", model.description or "").strip(),
        aliases=aliases, governance=governance, metrics=dict(sorted(metrics.items())),
        validation=_validation(tags),
        training_data=[{"table": e.entity, "version": e.version or ""}
                       for e in training_inputs(reg, mv)],
        training_run=_run_facts(run, tags),
        approvals=approvals.history(mv),
        alias_history=[_history_row(e) for e in history],
        replay=_replay_facts(approvals.recorded(mv)),
        features=_features(reg, mv))


def _features(reg: Registry, mv: Any) -> list[dict[str, str]]:
    """A model that looks its features up (``FeatureEngineeringClient.log_model``): each
    feature, its table, and when that table was last written (its freshness)."""
    import os

    from kiln.models.artifacts import on_disk

    # the version's model directory in the workspace's artifact store (MLflow's
    # storage_location); a model without features has no spec in it
    path = os.path.join(on_disk(mv.storage_location or "", reg.root), "artifacts",
                        "feature_spec.json")
    try:
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
    except (OSError, ValueError):
        return []
    from kiln.catalog import Catalog

    catalog, rows = Catalog(reg.ws), []
    for lookup in spec.get("lookups") or []:
        try:
            history = catalog.history(lookup["table"])
            newest = max((h.get("timestamp") or 0) for h in history) if history else None
        except Exception:  # noqa: BLE001 - the table is gone or not readable here
            newest = None
        for feature, output in zip(lookup["features"], lookup["outputs"]):
            rows.append({"feature": output if output == feature else f"{output} ({feature})",
                         "table": lookup["table"],
                         "looked up by": ", ".join(lookup["lookup_keys"]),
                         "last written": _when(newest) if newest else "unknown"})
    return rows


def _validation(tags: dict[str, str]) -> dict[str, str]:
    """kiln's validation record, or the status a plain-MLflow notebook tagged."""
    from kiln.models.lifecycle import validation_status

    out = {k.removeprefix("kiln.validation."): v for k, v in sorted(tags.items())
           if k.startswith("kiln.validation.") and k != "kiln.validation.metrics"}
    status = validation_status(tags)
    if status and "status" not in out:
        out["status"] = status
    return out


def _replay_facts(report: dict[str, Any] | None) -> dict[str, str]:
    """The latest shadow replay, in a few lines."""
    if not report:
        return {}
    facts = {"Endpoint": report["endpoint"], "At": report.get("at", ""),
             "Rows": str(report["rows"]), "Agreement": f"{report['agreement']:.3f}"}
    quality = report.get("quality") or {}
    if quality.get("labelled_rows"):
        metric = next(iter(quality["candidate"]))
        facts["Quality"] = (f"{metric} {quality['candidate'][metric]:.4f} vs served "
                            f"{quality['served'][metric]:.4f} on {quality['labelled_rows']} "
                            "labelled rows")
    for i, s in enumerate(report.get("worst_slices") or [], 1):
        facts[f"Disagreement {i}"] = (f"{s['column']} = {s['value']}: agreement "
                                      f"{s['agreement']:.3f} over {s['rows']} rows")
    return facts


def _history_row(e: dict[str, Any]) -> dict[str, str]:
    d = e["detail"]
    return {"at": _when(e["ts"]), "user": e["user"], "action": e["action"].removeprefix("models."),
            "alias": d.get("alias", ""), "version": d.get("version", ""),
            "previous": d.get("previous") or "",
            "note": d.get("reason") or d.get("from") or d.get("comment") or ""}


def _governance(*sources: dict[str, str] | str) -> dict[str, str]:
    import yaml

    out: dict[str, str] = {}
    for src in sources:
        if isinstance(src, str):
            m = _BLOCK.search(src)
            try:
                block = yaml.safe_load(m.group(1)) if m else None
            except yaml.YAMLError:
                block = None
            if isinstance(block, dict):
                out.update({str(k): str(v).strip() for k, v in block.items()})
        else:
            out.update({k.removeprefix("governance."): v for k, v in src.items()
                        if k.startswith("governance.")})
    return out


def _run_facts(run: Any, tags: dict[str, str]) -> dict[str, str]:
    facts: dict[str, str] = {}
    if run is not None:
        t = run.data.tags
        facts = {"run_id": run.info.run_id, "experiment_id": str(run.info.experiment_id),
                 "started": _when(run.info.start_time), "user": t.get("mlflow.user", ""),
                 "job_run_id": t.get("kiln.job_run_id", ""), "task": t.get("kiln.task_key", "")}
    if tags.get(ORIGIN):
        facts["promoted_from"] = tags[ORIGIN]
    return {k: v for k, v in facts.items() if v}


def _when(ms: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000)) if ms else ""


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def to_markdown(card: ModelCard) -> str:
    lines = [f"# Model card: {card.name} version {card.version}", ""]
    if card.aliases:
        lines += ["Aliases: " + ", ".join(f"@{a}" for a in card.aliases), ""]
    if card.description:
        lines += [card.description, ""]
    for title, rows in _sections(card):
        lines += [f"## {title}", ""]
        if not rows:
            lines += ["_none recorded_", ""]
            continue
        if isinstance(rows, list):
            keys = list(rows[0])
            lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
            lines += ["| " + " | ".join(_fmt(r.get(k, "")) for k in keys) + " |" for r in rows]
        else:
            lines += [f"- **{k}**: {_fmt(v)}" for k, v in rows.items()]
        lines.append("")
    return "\n".join(lines)


def to_html(card: ModelCard) -> str:
    e = html.escape
    out = ["<!doctype html><html><head><meta charset='utf-8'>",
           f"<title>{e(card.name)} v{e(card.version)}</title>",
           "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
           "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}"
           "</style></head><body>",
           f"<h1>Model card: {e(card.name)} version {e(card.version)}</h1>"]
    if card.aliases:
        out.append("<p>Aliases: " + ", ".join(f"<code>@{e(a)}</code>" for a in card.aliases)
                   + "</p>")
    if card.description:
        out.append(f"<p>{e(card.description)}</p>")
    for title, rows in _sections(card):
        out.append(f"<h2>{e(title)}</h2>")
        if not rows:
            out.append("<p><em>none recorded</em></p>")
        elif isinstance(rows, list):
            keys = list(rows[0])
            out.append("<table><tr>" + "".join(f"<th>{e(k)}</th>" for k in keys) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{e(_fmt(r.get(k, '')))}</td>" for k in keys)
                    + "</tr>" for r in rows]
            out.append("</table>")
        else:
            out.append("<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(_fmt(v))}</dd>"
                                        for k, v in rows.items()) + "</dl>")
    out.append("</body></html>")
    return "\n".join(out)


def _sections(card: ModelCard) -> list[tuple[str, Any]]:
    gov = {k.replace("_", " ").capitalize(): card.governance.get(k) or "not documented"
           for k in GOVERNANCE}
    gov.update({k: v for k, v in card.governance.items() if k not in GOVERNANCE})
    return [("Governance", gov), ("Metrics", card.metrics), ("Validation", card.validation),
            ("Training data", card.training_data), ("Training run", card.training_run),
            ("Approvals", [{"action": a.get("action", ""), "user": a.get("user", ""),
                            "at": _when(a.get("at")), "comment": a.get("comment", "")}
                           for a in card.approvals]),
            ("Shadow replay", card.replay), ("Alias history", card.alias_history),
            ("Features", card.features)]
