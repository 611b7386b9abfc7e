"""``kiln models``, ``kiln experiments`` and ``kiln lineage``: the registry, the
lifecycle (aliases, approvals, promotion), model cards and lineage."""

from __future__ import annotations

import time
from typing import Any

import click

from kiln.cli.render import document_opt, echo, print_json
from kiln.cli.workspaces import open_named, open_where, where_opts


def _registry(target: str | None, workspace: str | None):  # type: ignore[no-untyped-def]
    from kiln.models.registry import Registry

    return Registry(open_where(target, workspace))


def _when(ms: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000)) if ms else ""


def _version_doc(mv: Any, aliases: dict[str, Any]) -> dict[str, Any]:
    return {"name": mv.name, "version": str(mv.version), "run_id": mv.run_id,
            "source": mv.source, "status": mv.status, "created": _when(mv.creation_timestamp),
            "aliases": sorted(a for a, v in aliases.items() if str(v) == str(mv.version)),
            "tags": dict(mv.tags or {})}


_out = click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")


@click.group()
def models() -> None:
    """Registered models: versions, aliases, approvals, promotion and model cards."""


@models.command(name="list")
@where_opts
@_out
def list_cmd(target: str | None, workspace: str | None, output: str) -> None:
    """List the registered models of a workspace."""
    found = _registry(target, workspace).models()
    if output == "json":
        print_json([{"name": m.name, "aliases": {a: str(v) for a, v in (m.aliases or {}).items()},
                     "description": m.description or "",
                     "updated": _when(m.last_updated_timestamp)} for m in found])
        return
    if not found:
        echo("No registered models.")
    for m in found:
        aliases = " ".join(f"@{a}=v{v}" for a, v in sorted((m.aliases or {}).items()))
        echo(f"{m.name:40} {aliases}")


@models.command(name="get")
@click.argument("name")
@where_opts
@document_opt
def get_cmd(name: str, target: str | None, workspace: str | None) -> None:
    """A registered model: description, aliases, tags and its deployed settings."""
    reg = _registry(target, workspace)
    m = reg.model(name)
    doc: dict[str, Any] = {"name": m.name, "description": m.description or "",
                           "aliases": {a: str(v) for a, v in (m.aliases or {}).items()},
                           "tags": dict(m.tags or {}),
                           "created": _when(m.creation_timestamp),
                           "versions": len(reg.versions(m.name)),
                           "approval_required_for": sorted(reg.required_approvals())}
    try:
        doc["grants"] = reg.ws.get("registered_models", m.name).settings.get("grants") or []
    except Exception:  # noqa: BLE001 - registered by task code, not deployed by a bundle
        pass
    print_json(doc)


@models.command(name="versions")
@click.argument("name")
@where_opts
@_out
def versions_cmd(name: str, target: str | None, workspace: str | None, output: str) -> None:
    """The versions of a model, with their aliases, validation and approval."""
    from kiln.models.lifecycle import validation_status

    reg = _registry(target, workspace)
    aliases = reg.model(name).aliases or {}
    docs = [_version_doc(mv, aliases) for mv in reg.versions(name)]
    if output == "json":
        print_json(docs)
        return
    echo(f"{'VERSION':>7}  {'CREATED':16}  {'VALIDATION':10}  {'APPROVAL':9}  ALIASES")
    for d in docs:
        echo(f"{d['version']:>7}  {d['created']:16}  "
             f"{validation_status(d['tags']) or '-':10}  "
             f"{d['tags'].get('kiln.approval.status', '-'):9}  "
             + " ".join(f"@{a}" for a in d["aliases"]))


@models.command(name="set-alias")
@click.argument("name")
@click.argument("alias")
@click.argument("version")
@click.option("--reason", default="", help="Why, for the audit log.")
@where_opts
def set_alias_cmd(name: str, alias: str, version: str, reason: str, target: str | None,
                  workspace: str | None) -> None:
    """Point ALIAS at VERSION (the workspace's approval policy applies)."""
    from kiln.models.lifecycle import validation_status

    reg = _registry(target, workspace)
    previous = reg.set_alias(name, alias, version, reason=reason)
    echo(f"@{alias} of {name.lower()} -> version {version}"
         + (f" (was {previous})" if previous else ""))
    serving = reg.endpoints_following(name, alias)
    status = validation_status(reg.version(name, version).tags)
    if serving and status != "passed":
        echo(f"Warning: @{alias} serves {', '.join(serving)}, and version {version} has not "
             f"passed validation (status: {status or 'not validated'}). "
             f"'kiln models policy --require-approval serving' makes such moves need an "
             "approved version.", err=True)


@models.command(name="delete-alias")
@click.argument("name")
@click.argument("alias")
@click.option("--reason", default="")
@where_opts
def delete_alias_cmd(name: str, alias: str, reason: str, target: str | None,
                     workspace: str | None) -> None:
    """Remove ALIAS from the model."""
    _registry(target, workspace).delete_alias(name, alias, reason=reason)
    echo(f"Deleted @{alias} of {name.lower()}")


@models.command(name="deploy")
@click.argument("name")
@click.option("--version", required=True, help="A version number, or @alias.")
@click.option("--force", is_flag=True, help="Deploy a version that has not passed validation.")
@click.option("--reason", default="")
@where_opts
def deploy_cmd(name: str, version: str, force: bool, reason: str, target: str | None,
               workspace: str | None) -> None:
    """Make a validated version the champion (kiln.lifecycle.deploy)."""
    from kiln.models.lifecycle import deploy

    previous = deploy(name, version, force=force, reason=reason,
                      registry=_registry(target, workspace))
    echo(f"@champion of {name.lower()} -> version {version}"
         + (f" (was {previous})" if previous else ""))


def _approval_cmd(cmd_name: str, help_text: str, step: str):  # type: ignore[no-untyped-def]
    @models.command(name=cmd_name, help=help_text)
    @click.argument("name")
    @click.option("--version", required=True, help="A version number, or @alias.")
    @click.option("--comment", default="", help="Recorded with the approval step.")
    @where_opts
    def cmd(name: str, version: str, comment: str, target: str | None,
            workspace: str | None) -> None:
        from kiln.models import approvals

        reg = _registry(target, workspace)
        if step == "request":
            mv = approvals.request(reg, name, version, comment)
        else:
            mv = approvals.decide(reg, name, version, step == "approve", comment)
        echo(f"Version {mv.version} of {mv.name}: {approvals.status(mv)}")

    return cmd


_approval_cmd("request-approval", "Ask for a version to be approved.", "request")
_approval_cmd("approve", "Approve a version with a pending request.", "approve")
_approval_cmd("reject", "Reject a version with a pending request (--comment says why).",
              "reject")


@models.command(name="promote")
@click.argument("name")
@click.option("--version", required=True, help="A version number, or @alias.")
@click.option("--from", "source", required=True, help="Source target or workspace.")
@click.option("--to", "dest", required=True, help="Destination target or workspace.")
@click.option("--to-name", default=None, help="The model's name there (default: the same).")
@click.option("--alias", default="champion", show_default=True)
@click.option("--comment", default="")
def promote_cmd(name: str, version: str, source: str, dest: str, to_name: str | None,
                alias: str, comment: str) -> None:
    """Copy a model version into another workspace's registry and set its alias there."""
    from kiln.models.promotion import promote
    from kiln.models.registry import Registry

    src, dst = Registry(open_named(source)), Registry(open_named(dest))
    source_mv = src.version(name, version)  # a number or @alias
    mv = promote(src, dst, name, source_mv.version, to_name=to_name, alias=alias,
                 comment=comment)
    echo(f"Promoted {source_mv.name} v{source_mv.version} ({src.ws.name}) -> {mv.name} "
         f"v{mv.version} @{alias} ({dst.ws.name})")


@models.command(name="card")
@click.argument("name")
@click.option("--version", default=None, help="Default: the latest version.")
@click.option("-o", "--output", type=click.Choice(["markdown", "html", "json"]),
              default="markdown")
@where_opts
def card_cmd(name: str, version: str | None, output: str, target: str | None,
             workspace: str | None) -> None:
    """The model card of a version: governance, metrics, validation, data, approvals."""
    from kiln.models import cards

    card = cards.build(_registry(target, workspace), name, version)
    if output == "json":
        print_json(card.to_dict(), sort_keys=False)
    else:
        echo(cards.to_html(card) if output == "html" else cards.to_markdown(card))


@models.command(name="policy")
@click.option("--require-approval", "aliases", multiple=True,
              help="An alias that may only point at approved versions (repeatable); "
                   "'serving' means every alias a serving endpoint follows.")
@click.option("--replay-min-agreement", type=float, default=None,
              help="Approvals need a shadow replay agreeing this much with what was "
                   "served (0..1), or labels showing quality not worse.")
@click.option("--clear", is_flag=True, help="No alias needs an approval, no replay rule.")
@where_opts
def policy_cmd(aliases: tuple[str, ...], replay_min_agreement: float | None, clear: bool,
               target: str | None, workspace: str | None) -> None:
    """Show or set which aliases need an approved version, and the replay rule."""
    from kiln.models import approvals

    reg = _registry(target, workspace)
    if aliases or clear:
        reg.set_required_approvals(set() if clear else set(aliases))
    if replay_min_agreement is not None or clear:
        approvals.set_rule(reg.ws, None if clear else replay_min_agreement)
    needed = sorted(reg.required_approvals())
    echo(f"Workspace {reg.ws.name}: "
         + (", ".join(f"@{a}" for a in needed) + " require" + ("s" if len(needed) == 1 else "")
            + " an approved version" if needed else "no alias requires an approval"))
    rule = approvals.rule(reg.ws)
    if rule is not None:
        echo(f"Approvals need a shadow replay with agreement >= {rule.min_agreement:g} "
             "(or labels showing quality not worse)")


@models.command(name="replay")
@click.argument("name")
@click.option("--version", required=True, help="The candidate: a version number, or @alias.")
@click.option("--endpoint", required=True, help="The serving endpoint whose traffic to replay.")
@click.option("--since", default=None, help="Only requests of the last 24h, 30m, 7d, ...")
@click.option("--labels", default=None, help="A table of labels that have arrived.")
@click.option("--label-col", default="label", show_default=True)
@click.option("--key", default="client_request_id", show_default=True,
              help="The column joining captured requests and labels.")
@click.option("--problem-type", type=click.Choice(["classification", "regression"]),
              default=None, help="Default: guessed from what was served.")
@_out
@where_opts
def replay_cmd(name: str, version: str, endpoint: str, since: str | None, labels: str | None,
               label_col: str, key: str, problem_type: str | None, output: str,
               target: str | None, workspace: str | None) -> None:
    """Score an endpoint's captured requests with a version, off the serving path, and
    compare with what the endpoint answered; the report is recorded on the version."""
    from kiln.serving import replay

    report = replay.replay(_registry(target, workspace), name, version, endpoint,
                           since=since, labels=labels, label_col=label_col, key=key,
                           problem_type=problem_type)
    if output == "json":
        print_json(report.to_dict(), sort_keys=False)
    else:
        echo(replay.to_text(report))


@click.group()
def experiments() -> None:
    """MLflow experiments of a workspace."""


@experiments.command(name="list")
@where_opts
@_out
def experiments_list(target: str | None, workspace: str | None, output: str) -> None:
    """List experiments."""
    found = _registry(target, workspace).db.experiments()
    if output == "json":
        print_json([{"experiment_id": e.experiment_id, "name": e.name,
                     "artifact_location": e.artifact_location} for e in found])
        return
    for e in sorted(found, key=lambda e: int(e.experiment_id)):
        echo(f"{e.experiment_id:>6}  {e.name}")


@experiments.command(name="runs")
@click.argument("experiment")
@click.option("--max-results", type=int, default=25, show_default=True)
@where_opts
@_out
def experiments_runs(experiment: str, max_results: int, target: str | None,
                     workspace: str | None, output: str) -> None:
    """Runs of an experiment (by name or id), newest first, with their metrics."""
    from kiln.errors import NotFound

    db = _registry(target, workspace).db
    exp = db.experiment(experiment)
    if exp is None:
        raise NotFound(f"experiment {experiment} does not exist")
    runs = db.runs(exp.experiment_id, max_results)
    docs = [{"run_id": r.info.run_id, "run_name": r.info.run_name, "status": r.info.status,
             "start_time": _when(r.info.start_time), "metrics": r.data.metrics,
             "params": r.data.params,
             "job_run_id": r.data.tags.get("kiln.job_run_id")} for r in runs]
    if output == "json":
        print_json(docs)
        return
    for d in docs:
        metrics = " ".join(f"{k}={v:.4g}" for k, v in sorted(d["metrics"].items())[:6])
        echo(f"{d['run_id'][:12]}  {d['start_time']:16}  {d['status']:9}  "
             f"{d['run_name'] or '':24}  {metrics}")


@click.command(name="lineage")
@click.argument("name")
@where_opts
@_out
def lineage_cmd(name: str, target: str | None, workspace: str | None, output: str) -> None:
    """Upstream and downstream of a table or a registered model."""
    from kiln.models.lineage import lineage

    up, down = lineage(_registry(target, workspace), name)
    if output == "json":
        print_json({"upstream": [e.__dict__ for e in up],
                    "downstream": [e.__dict__ for e in down]}, sort_keys=False)
        return
    for title, edges in (("Upstream", up), ("Downstream", down)):
        echo(f"{title}:")
        for e in edges:
            echo(f"  {e.source} -> {e.target}  ({e.via})")
        if not edges:
            echo("  (none recorded)")

