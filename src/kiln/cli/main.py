"""``kiln``: the entry point and the error boundary of every command."""

from __future__ import annotations

import gc
import os
import sys

import click

from kiln import __version__
from kiln.cli import lifecycle
from kiln.cli.bundle import bundle
from kiln.cli.catalog import catalogs, functions, schemas, sql_cmd, tables, volumes
from kiln.cli.clusters import clusters
from kiln.cli.demo import demo_cmd
from kiln.cli.identity import grants, groups, service_principals, users
from kiln.cli.models import experiments, lineage_cmd, models
from kiln.cli.monitors import quality_monitors
from kiln.cli.runs import jobs, runs, scheduler
from kiln.cli.serving import server_cmd, serving_endpoints, tokens
from kiln.cli.secrets import secrets
from kiln.cli.workspace_cmds import audit, auth, env_cmd, workspace
from kiln.cli.render import print_diagnostics
from kiln.errors import KilnError


class _Group(click.Group):
    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except KilnError as e:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            print_diagnostics(e.diagnostics())
            sys.exit(1)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except BrokenPipeError:
            # the reader went away (`kiln runs list | head -1`): end quietly, as Unix tools
            # do, with SIGPIPE's status; nothing more may be written to the closed pipe
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(128 + 13)
        except Exception as e:  # noqa: BLE001 - the boundary: report, do not crash
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"Error: internal error: {type(e).__name__}: {e}\n"
                       "  (this is a bug in kiln; run with --debug for the traceback)", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="kiln", message="kiln %(version)s")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """kiln: the Databricks MLOps lifecycle on your own machine.

    Bundles (databricks.yml) are validated, deployed to isolated workspaces, run,
    tracked in MLflow, promoted, served and monitored.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


cli.add_command(bundle)
cli.add_command(workspace)
cli.add_command(auth)
cli.add_command(env_cmd)
cli.add_command(clusters)
cli.add_command(models)
cli.add_command(experiments)
cli.add_command(lineage_cmd)
cli.add_command(server_cmd)
cli.add_command(serving_endpoints)
cli.add_command(tokens)
cli.add_command(quality_monitors)
cli.add_command(audit)
cli.add_command(users)
cli.add_command(groups)
cli.add_command(service_principals)
cli.add_command(grants)
cli.add_command(functions)
cli.add_command(jobs)
cli.add_command(runs)
cli.add_command(secrets)
cli.add_command(scheduler)
cli.add_command(demo_cmd)
for _cmd in (sql_cmd, tables, catalogs, schemas, volumes):
    cli.add_command(_cmd)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    # --debug is accepted anywhere on the line, as the Databricks CLI's persistent flag.
    if "--debug" in args[1:]:
        args = ["--debug"] + [a for a in args if a != "--debug"]
    # A kiln command is a short-lived process that builds large acyclic trees: the cyclic
    # collector only costs time here. Long-running commands turn it back on.
    gc.disable()
    try:
        cli(args=args, prog_name="kiln")
        code: object = 0
    except SystemExit as e:
        code = e.code
    if lifecycle.fast_exit_requested():
        lifecycle.exit_now(code)
    sys.exit(code)


if __name__ == "__main__":
    main()
