"""``kiln bundle plan | deploy | destroy``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from kiln.cli.render import echo, is_tty, print_diagnostics, print_json
from kiln.cli.workspaces import load_for_target, open_bundle_workspace, require_ok, target_opt
from kiln.events import Event

if TYPE_CHECKING:
    from kiln.deploy import Action, DeployOptions

var_opt = click.option("--var", multiple=True, metavar="NAME=VALUE",
                       help="Set a bundle variable; may be repeated.")


def _confirm(actions: "list[Action]") -> bool:
    echo("The following changes are destructive:")
    for a in actions:
        echo(f"  {a.op} {a.address}" + (f" ({a.reason})" if a.reason else ""))
    return click.confirm("Would you like to proceed?", default=False)


def _options(force_lock: bool, auto_approve: bool) -> "DeployOptions":
    from kiln.deploy import DeployOptions

    interactive = is_tty(sys.stdin) and is_tty(sys.stdout)
    return DeployOptions(force_lock=force_lock, auto_approve=auto_approve,
                         confirm=_confirm if interactive else None)


class _Progress:
    """Event lines as they happen; on a terminal, a Rich spinner shows the running step."""

    def __init__(self) -> None:
        self.status = None
        if is_tty(sys.stdout):
            from rich.console import Console

            self.console = Console(highlight=False)
            self.status = self.console.status("Preparing...", spinner="dots")
            self.status.start()

    def __call__(self, event: Event) -> None:
        if self.status is None:
            echo(event.message)
            return
        self.console.print(event.message, markup=False)
        if event.kind in ("building", "uploading", "applying", "destroying"):
            self.status.update(event.message)

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()


def _bundle_and_workspace(target: str | None, var: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """The loaded bundle (errors stop here) and its target's workspace."""
    from kiln.deploy.deployer import bundle_tree, require_deployable
    from kiln.deploy.resources import not_deployed

    result, ctx = load_for_target(target, var)
    require_ok(result)  # errors: the error boundary prints every diagnostic once
    assert result.bundle is not None
    tree = bundle_tree(result.bundle)
    require_deployable(result.bundle, also=result.diagnostics)
    print_diagnostics([*result.diagnostics, *not_deployed(tree)])
    ws = open_bundle_workspace(tree, ctx, remote_ok=True)
    assert ws is not None
    return result.bundle, ws


def _with_progress(fn, bundle, ws, force_lock: bool, auto_approve: bool) -> None:  # type: ignore[no-untyped-def]
    progress = _Progress()
    try:
        fn(bundle, ws, _options(force_lock, auto_approve), progress)
    finally:
        progress.close()


_force_lock_opt = click.option("--force-lock", is_flag=True,
                               help="Take the deployment lock even if it is held.")


@click.command()
@target_opt
@var_opt
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def plan(target: str | None, var: tuple[str, ...], output: str) -> None:
    """Show what deploy would create, update or delete."""
    from kiln.deploy.deployer import plan_for

    bundle, ws = _bundle_and_workspace(target, var)
    p = plan_for(bundle, ws)
    if output == "json":
        print_json(p.to_json())
        return
    for a in p.changes():
        echo(f"{a.op} {a.address}")
    if p.changes():
        echo()
    echo(p.summary())


@click.command(name="deploy")
@target_opt
@var_opt
@_force_lock_opt
@click.option("--auto-approve", is_flag=True, help="Approve destructive changes without asking.")
def deploy_cmd(target: str | None, var: tuple[str, ...], force_lock: bool,
               auto_approve: bool) -> None:
    """Deploy the bundle's files and resources to the target's workspace."""
    from kiln.deploy import deploy

    _with_progress(deploy, *_bundle_and_workspace(target, var), force_lock, auto_approve)
    echo("Deployment complete!")


@click.command(name="destroy")
@target_opt
@var_opt
@_force_lock_opt
@click.option("--auto-approve", is_flag=True, help="Delete without asking.")
def destroy_cmd(target: str | None, var: tuple[str, ...], force_lock: bool,
                auto_approve: bool) -> None:
    """Delete everything the bundle deployed to the target's workspace, and its files."""
    from kiln.deploy import destroy

    _with_progress(destroy, *_bundle_and_workspace(target, var), force_lock, auto_approve)
