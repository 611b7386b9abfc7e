"""``kiln bundle validate | summary | schema``."""

from __future__ import annotations

import sys
from typing import Any

import click

from kiln.bundle import LoadResult
from kiln.cli.workspaces import load_for_target, open_bundle_workspace, target_opt
from kiln.cli.lifecycle import request_fast_exit
from kiln.cli.render import echo, print_diagnostics, print_json
from kiln.diag import Diagnostic, Severity, has_errors, summary_line

_var_opt = click.option("--var", multiple=True, metavar="NAME=VALUE",
                        help="Set a bundle variable; may be repeated.")


@click.group()
def bundle() -> None:
    """Databricks Asset Bundles: validate, summarize, deploy and run."""


@bundle.command()
@target_opt
@_var_opt
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def validate(target: str | None, var: tuple[str, ...], output: str, strict: bool) -> None:
    """Validate the bundle configuration and print it resolved for a target."""
    request_fast_exit()
    result, _ctx = load_for_target(target, var)
    diags = result.diagnostics
    print_diagnostics(diags)
    if output == "json":
        print_json(result.plain())
    else:
        _print_header(result)
        echo(summary_line(diags))
    _exit_for(diags)
    if strict:  # as the Databricks CLI: the warnings stay warnings, then one error
        n = sum(d.severity is Severity.WARNING for d in diags)
        if n:
            found = "1 warning was found" if n == 1 else f"{n} warnings were found"
            print_diagnostics([Diagnostic(Severity.ERROR, f"{found}. Warnings are not "
                                          "allowed in strict mode")])
            sys.exit(1)


@bundle.command()
@target_opt
@_var_opt
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
def summary(target: str | None, var: tuple[str, ...], output: str) -> None:
    """Summarize the bundle's target and its resources, with ids once deployed."""
    request_fast_exit()
    result, ctx = load_for_target(target, var)
    print_diagnostics(result.diagnostics)
    tree = result.plain()
    if result.ok:
        ws = open_bundle_workspace(tree, ctx, create=False, remote_ok=True)
        if ws is not None:
            from kiln.deploy.summary import annotate_deployment

            annotate_deployment(tree, ws)
    if output == "json":
        print_json(tree)
    else:
        _print_header(result)
        _print_resources(tree)
    _exit_for(result.diagnostics)


@bundle.command()
def schema() -> None:
    """Print the JSON schema of databricks.yml (for editor completion)."""
    from kiln.bundle.schema_json import bundle_json_schema

    print_json(bundle_json_schema())


# helpers -------------------------------------------------------------------------------

def _exit_for(diags: list[Diagnostic]) -> None:
    if has_errors(diags):
        sys.exit(1)




def workspace_host(tree: dict[str, Any], target: str) -> str:
    ws = tree.get("workspace") or {}
    if ws.get("host"):
        return str(ws["host"])
    return f"kiln://{ws.get('profile') or target}"


def _print_header(result: LoadResult) -> None:
    tree = result.plain() or {}
    b, ws = (v if isinstance(v, dict) else {}  # a malformed tree (already reported)
             for v in (tree.get("bundle"), tree.get("workspace")))
    target = b.get("target") or ""
    lines = [f"Name: {b.get('name', '')}", f"Target: {target}"]
    if ws:
        user = (ws.get("current_user") or {}).get("userName", "")
        lines += ["Workspace:", f"  Host: {workspace_host(tree, target)}", f"  User: {user}",
                  f"  Path: {ws.get('root_path', '')}"]
    echo("\n".join(lines))
    echo()


_TITLES = {
    "jobs": "Jobs", "experiments": "Experiments", "registered_models": "Registered Models",
    "models": "Models", "model_serving_endpoints": "Model Serving Endpoints",
    "quality_monitors": "Quality Monitors", "catalogs": "Catalogs", "schemas": "Schemas",
    "volumes": "Volumes", "clusters": "Clusters", "pipelines": "Pipelines", "apps": "Apps",
    "dashboards": "Dashboards",
}


def _display_name(rtype: str, r: dict[str, Any]) -> str:
    if rtype == "quality_monitors":
        return str(r.get("table_name", ""))
    if rtype in ("schemas", "volumes", "registered_models"):
        parts = [r.get("catalog_name"), r.get("schema_name"), r.get("name")]
        return ".".join(str(p) for p in parts if p)
    if rtype == "dashboards":
        return str(r.get("display_name", ""))
    if rtype == "clusters":
        return str(r.get("cluster_name", ""))
    return str(r.get("name", ""))


def _print_resources(tree: dict[str, Any]) -> None:
    res = tree.get("resources")
    res = res if isinstance(res, dict) else {}  # a malformed section was already reported
    lines = ["Resources:"]
    for rtype in sorted(res, key=lambda t: list(_TITLES).index(t) if t in _TITLES else 99):
        group = res[rtype] or {}
        # a resource that is not a map was already reported ("expected map"): not shown
        shown = {k: r for k, r in group.items() if isinstance(r, dict) or r is None} \
            if isinstance(group, dict) else {}
        if not shown:
            continue
        lines.append(f"  {_TITLES.get(rtype, rtype)}:")
        for key in sorted(shown):
            lines.append(f"    {key}:")
            r = shown[key] or {}
            lines.append(f"      Name: {_display_name(rtype, r)}")
            lines.append(f"      URL:  {r.get('url') or '(not deployed)'}")
    if len(lines) == 1:
        lines.append("  (none)")
    echo("\n".join(lines))


def _register() -> None:
    from kiln.cli.deploy import deploy_cmd, destroy_cmd, plan
    from kiln.cli.runs import bundle_run

    for cmd in (plan, deploy_cmd, destroy_cmd, bundle_run):
        bundle.add_command(cmd)


_register()


@bundle.command(name="init")
@click.argument("template", required=False)
@click.option("--output-dir", default=".", show_default=True,
              help="Where the project directory is created.")
@click.option("--config-file", default=None,
              help="A JSON file of parameter values (no questions asked).")
@click.option("--list", "list_templates", is_flag=True, help="Show the templates.")
def init(template: str | None, output_dir: str, config_file: str | None,
         list_templates: bool) -> None:
    """Create a project from a template (default: mlops-stack).

    Asks for each parameter on a terminal; with --config-file, or without a terminal,
    takes the file's values and the defaults for the rest."""
    from kiln import templates

    if list_templates:
        for t in templates.available():
            echo(f"{t.name}: {t.description}")
        return
    tpl = templates.load(template or "mlops-stack")
    config = templates.read_config(config_file) if config_file else {}
    interactive = config_file is None and sys.stdin.isatty()
    if not interactive and config_file is None:
        echo("No terminal and no --config-file: using the template's defaults.", err=True)
    params = templates.values(tpl, config, config_file or "parameters",
                              _ask if interactive else None)
    params["kiln_requirement"] = _kiln_requirement()
    dest = templates.render(tpl, params, output_dir)
    echo(f"Created {dest} from template {tpl.name}.")
    echo(f"Next: cd {dest} && python -m pip install -r requirements.txt && python -m pytest "
         "&& kiln bundle deploy")


def _ask(p: Any) -> str:
    from kiln.errors import KilnError

    kind = click.Choice(list(p.choices)) if p.choices else str
    while True:
        value = click.prompt(p.prompt, default=p.default, type=kind)
        try:
            return p.check(value, "answer")
        except KilnError as e:
            echo(str(e), err=True)


def _kiln_requirement() -> str:
    """How the generated project's requirements name kiln: the source this kiln was
    installed from when that was a local directory or a URL (PEP 610), else the version
    (the name 'kiln' on PyPI belongs to another project, so a bare name is never used)."""
    import json
    from importlib import metadata

    from kiln import __version__

    try:
        direct = json.loads(metadata.distribution("kiln").read_text("direct_url.json") or "{}")
    except metadata.PackageNotFoundError:
        direct = {}
    url = direct.get("url")
    if url:
        return f"kiln @ {url}"
    return f"kiln=={__version__}"
