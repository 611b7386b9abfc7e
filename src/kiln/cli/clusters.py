"""``kiln clusters list|get|start|stop|logs``: the workspace's Spark compute."""

from __future__ import annotations

import click

from kiln.cli.render import document_opt, echo, print_json
from kiln.cli.workspaces import open_where, where_opts
from kiln.errors import NotFound


def _ws(target: str | None, workspace: str | None):  # type: ignore[no-untyped-def]
    return open_where(target, workspace, create=True)


def _check_id(cluster_id: str) -> None:
    from kiln.compute.cluster import CLUSTER_ID

    if cluster_id != CLUSTER_ID:
        raise NotFound(f"cluster {cluster_id} does not exist",
                        detail=f"Each workspace has one cluster, {CLUSTER_ID}: its embedded "
                               "Spark Connect server.")


@click.group()
def clusters() -> None:
    """The workspace's Spark compute: an embedded Spark Connect server (Sail) that tasks
    start on demand, share, and that stops when no kiln process uses it."""


@clusters.command(name="list")
@where_opts
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def list_cmd(target: str | None, workspace: str | None, output: str) -> None:
    """List the clusters and their state."""
    from kiln.compute.cluster import describe

    ws = _ws(target, workspace)
    doc = describe(ws.local_root(), ws.name)
    if output == "json":
        print_json({"clusters": [doc]})
        return
    echo(f"{'ID':10} {'STATE':11} {'URL':24} NAME")
    echo(f"{doc['cluster_id']:10} {doc['state']:11} {doc.get('spark_connect_url', '-'):24} "
         f"{doc['cluster_name']}")


@clusters.command(name="get")
@click.argument("cluster_id", default="embedded")
@where_opts
@document_opt
def get_cmd(cluster_id: str, target: str | None, workspace: str | None) -> None:
    """Show a cluster (pid, URL, catalogs, the processes using it)."""
    from kiln.compute.cluster import describe

    _check_id(cluster_id)
    ws = _ws(target, workspace)
    print_json(describe(ws.local_root(), ws.name))


@clusters.command(name="start")
@click.argument("cluster_id", default="embedded")
@where_opts
def start_cmd(cluster_id: str, target: str | None, workspace: str | None) -> None:
    """Start the cluster now; it stops after the idle timeout (KILN_COMPUTE_IDLE_TIMEOUT)."""
    from kiln.compute.cluster import ensure

    _check_id(cluster_id)
    ws = _ws(target, workspace)
    state = ensure(ws.local_root())
    echo(f"Cluster {cluster_id} is RUNNING at {state['url']}")


@clusters.command(name="stop")
@click.argument("cluster_id", default="embedded")
@where_opts
def stop_cmd(cluster_id: str, target: str | None, workspace: str | None) -> None:
    """Stop the cluster; tasks using it fail, the next task starts it again."""
    from kiln.compute.cluster import stop

    _check_id(cluster_id)
    ws = _ws(target, workspace)
    echo(f"Cluster {cluster_id} stopped" if stop(ws.local_root())
         else f"Cluster {cluster_id} is not running")


@clusters.command(name="logs")
@click.argument("cluster_id", default="embedded")
@click.option("--tail", "lines", type=int, default=100, show_default=True)
@where_opts
def logs_cmd(cluster_id: str, lines: int, target: str | None, workspace: str | None) -> None:
    """Print the end of the cluster's log."""
    from kiln.compute.cluster import log_tail

    _check_id(cluster_id)
    ws = _ws(target, workspace)
    text = log_tail(ws.local_root(), lines)
    echo(text if text else f"Cluster {cluster_id} has no log yet")
