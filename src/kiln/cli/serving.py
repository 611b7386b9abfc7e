"""``kiln server``, ``kiln serving-endpoints ...`` and ``kiln tokens ...``."""

from __future__ import annotations

import json
import os

import click

from kiln.cli.render import document_opt, echo, output_opt, print_json
from kiln.cli.workspaces import open_where, profile_opt, where_opts
from kiln.errors import KilnError, UsageError

SERVER_SETTING = "serving.server"


def _serve(target: str | None, workspace: str | None, host: str, port: int,
           only: list[str] | None, max_wait_ms: float, db: str | None = None,
           scheduler: bool = False) -> None:
    import logging

    from kiln.models.store import mlflow_env
    from kiln.serving.server import serve

    if only is None and workspace is not None and target is None:
        # a server's workspace is made on its first start, its metadata where --db says
        from kiln.settings import Settings
        from kiln.workspace.local import database
        from kiln.workspace.local.home import WorkspaceHome

        home = WorkspaceHome(Settings.from_env().home)
        if not home.exists(workspace):
            if db is not None:
                database.record(home.path(workspace), db)
            home.open(workspace, Settings.from_env().user or "kiln").close()
        elif db is not None and database.url_of(home.path(workspace)) != db:
            raise UsageError(f"workspace {workspace} keeps its metadata elsewhere: "
                             "--db is only for a new workspace")
    elif db is not None:
        raise UsageError("--db makes a new workspace: use it with -w NAME")
    ws = open_where(target, workspace)
    os.environ.update(mlflow_env(ws.local_root()))
    # models that look their features up (kiln.features) read the workspace's tables
    os.environ["KILN_WORKSPACE_DIR"] = ws.local_root()
    from kiln.workspace.layout import serving_dir

    log_dir = serving_dir(ws.local_root())
    os.makedirs(log_dir, exist_ok=True)
    handler = logging.FileHandler(os.path.join(log_dir, "server.log"))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("kiln.serving")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    logger.addHandler(logging.StreamHandler())
    wrap = None
    if only is None:  # kiln server: the workspace's REST API too
        from kiln.server.app import with_rest_api

        def wrap(serving):  # type: ignore[no-untyped-def]
            return with_rest_api(ws, serving)

    def announce(url: str) -> None:
        ws.set_setting(SERVER_SETTING, json.dumps({"url": url, "pid": os.getpid()}))
        if only is None:
            from kiln.server.app import start_scheduler

            # the runs this server starts (run-now, runs/submit, its scheduler) reach
            # MLflow through it, as their identity (kiln.jobs.engine)
            os.environ["KILN_SERVER_URL"] = _reachable(url)
            if scheduler:
                start_scheduler(ws)
        echo(f"Serving on {url}", err=True)

    serve(ws, host, port, only=only, max_wait_s=max_wait_ms / 1000, wrap=wrap,
          announce=announce)


def _reachable(url: str) -> str:
    """``url`` as a process on this machine reaches it (a wildcard address: loopback)."""
    for wildcard in ("://0.0.0.0:", "://[::]:", "://:::"):
        url = url.replace(wildcard, "://127.0.0.1:")
    return url


_host = click.option("--host", default="127.0.0.1", show_default=True)
_port = click.option("--port", type=int, default=8080, show_default=True,
                     help="0 picks a free port.")
_wait = click.option("--max-batch-wait-ms", "max_wait_ms", type=float, default=1.0,
                     show_default=True, help="How long concurrent requests may wait to be "
                                             "predicted together.")


@click.command(name="server")
@click.option("-t", "--target", help="Bundle target whose workspace to serve.")
@click.option("-w", "--workspace", "workspaces", multiple=True,
              help="An embedded workspace to serve (made on first start); repeat it to "
                   "serve several on one port.")
@profile_opt
@_host
@_port
@_wait
@click.option("--scheduler/--no-scheduler", default=True, show_default=True,
              help="Fire the workspace's scheduled jobs (off when 'kiln scheduler' does).")
@click.option("--db", default=None, metavar="URL",
              help="For a new workspace: keep its metadata in this PostgreSQL database "
                   "(postgresql://user@host:port/db) instead of SQLite.")
def server_cmd(target: str | None, workspaces: tuple[str, ...], host: str, port: int,
               max_wait_ms: float, scheduler: bool, db: str | None) -> None:
    """Serve a workspace over HTTP: its REST API (Databricks' shapes, under /api/; see
    /api/openapi.json), MLflow's tracking server, every model serving endpoint, and its
    job scheduler. Several workspaces (-w a -w b) share one port: each request goes to
    the workspace that issued its token."""
    if db is not None and not db.startswith(("postgresql://", "postgres://")):
        raise UsageError(f"--db must be a postgresql:// URL, not {db!r}")
    if len(workspaces) > 1:
        if target is not None or db is not None:
            raise UsageError("several -w workspaces: no -t, and no --db (start each new "
                             "PostgreSQL workspace once on its own)")
        if len(set(workspaces)) != len(workspaces):
            raise UsageError("a workspace is named twice: " + ", ".join(workspaces))
        _serve_several(list(workspaces), host, port, scheduler)
        return
    _serve(target, workspaces[0] if workspaces else None, host, port, None, max_wait_ms, db,
           scheduler)


def _serve_several(names: list[str], host: str, port: int, scheduler: bool) -> None:
    """One port for several workspaces (``kiln.server.front``)."""
    from kiln.server import front
    from kiln.workspace.layout import serving_dir
    from kiln.serving.server import bind, run
    from kiln.settings import Settings
    from kiln.workspace.local.home import WorkspaceHome

    home = WorkspaceHome(Settings.from_env().home)
    workspaces = {n: home.open(n, Settings.from_env().user or "kiln")  # made on first start
                  for n in names}
    for name in names:
        os.makedirs(serving_dir(home.path(name)), exist_ok=True)
    sock = bind(host, port)
    backends = front.start_backends(
        names, {n: home.path(n) for n in names}, [] if scheduler else ["--no-scheduler"],
        lambda n: front.announced(workspaces[n].get_setting(SERVER_SETTING)))

    def owner_of(token: str) -> str | None:
        return next((n for n, ws in workspaces.items() if ws.user_for_token(token)), None)

    try:
        run(front.front_app(backends, owner_of), sock, host, announce=lambda url: echo(
            f"Serving on {url} (workspaces {', '.join(names)})", err=True))
    finally:
        front.stop_backends(backends)


@click.group(name="serving-endpoints")
def serving_endpoints() -> None:
    """Model serving endpoints: list, get, query, update-config, logs, delete, serve."""


@serving_endpoints.command(name="serve")
@click.argument("name")
@where_opts
@_host
@_port
@_wait
def serve_cmd(name: str, target: str | None, workspace: str | None, host: str, port: int,
              max_wait_ms: float) -> None:
    """Serve one endpoint over HTTP."""
    _serve(target, workspace, host, port, [name], max_wait_ms)


def _endpoints(target: str | None, workspace: str | None):  # type: ignore[no-untyped-def]
    from kiln.serving.endpoints import Endpoints

    return Endpoints(open_where(target, workspace))


@serving_endpoints.command(name="list")
@where_opts
@output_opt
def list_cmd(target: str | None, workspace: str | None, output: str) -> None:
    """The endpoints and what they serve."""
    from kiln.serving.endpoints import state_of

    eps = _endpoints(target, workspace)
    if output == "json":
        print_json({"endpoints": [{"name": o.id, **state_of(eps.ws, o.id)} for o in eps.list()]})
        return
    for o in eps.list():
        state = state_of(eps.ws, o.id)
        ready = (state.get("state") or {}).get("ready", "NOT_SERVED")
        served = ", ".join(f"{e['entity_name']} v{e['entity_version']} "
                           f"({e['traffic_percentage']}%)"
                           for e in state.get("served_entities") or [])
        echo(f"{o.id:30} {ready:10} {served}")


@serving_endpoints.command(name="get")
@click.argument("name")
@where_opts
@document_opt
def get_cmd(name: str, target: str | None, workspace: str | None) -> None:
    """The endpoint's config and state (what a running server serves, and why not)."""
    from kiln.serving.endpoints import state_of

    eps = _endpoints(target, workspace)
    obj = eps.get(name)
    print_json({"name": name, "config": obj.settings.get("config") or {},
                "ai_gateway": obj.settings.get("ai_gateway"),
                "creator": obj.creator, **state_of(eps.ws, name)})


@serving_endpoints.command(name="delete")
@click.argument("name")
@where_opts
def delete_cmd(name: str, target: str | None, workspace: str | None) -> None:
    """Delete an endpoint (a running server stops serving it)."""
    _endpoints(target, workspace).delete(name)
    echo(f"Deleted serving endpoint {name}")


@serving_endpoints.command(name="update-config")
@click.argument("name")
@click.option("--json", "doc", required=True,
              help='The new config: {"served_entities": [...], "traffic_config": {...}}.')
@where_opts
def update_config_cmd(name: str, doc: str, target: str | None, workspace: str | None) -> None:
    """Replace the endpoint's config; a running server switches with zero downtime."""
    try:
        new = json.loads(doc)
    except ValueError as e:
        raise UsageError(f"--json is not valid JSON: {e}") from None
    if not isinstance(new, dict):
        raise UsageError("--json must be a JSON object (the endpoint's config)")
    _endpoints(target, workspace).update_config(name, new)
    echo(f"Updated the config of serving endpoint {name}")


@serving_endpoints.command(name="query")
@click.argument("name")
@click.option("--json", "doc", required=True, help="The request body (MLflow scoring format).")
@click.option("--url", default=None, help="The server (default: the workspace's running one).")
@click.option("--token", envvar="DATABRICKS_TOKEN", default=None)
@where_opts
def query_cmd(name: str, doc: str, url: str | None, token: str | None, target: str | None,
              workspace: str | None) -> None:
    """Send one scoring request to the endpoint and print the answer."""
    import urllib.error
    import urllib.request

    ws = open_where(target, workspace)
    url = url or _server_url(ws)
    if token is None:
        token = ws.create_token(ws.current_user(), "kiln serving-endpoints query", 300)[1]
    req = urllib.request.Request(f"{url}/serving-endpoints/{name}/invocations",
                                 data=doc.encode(), method="POST",
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            echo(resp.read().decode())
    except urllib.error.HTTPError as e:
        raise KilnError(f"endpoint {name} answered {e.code}: {e.read().decode()}") from None
    except urllib.error.URLError as e:
        raise KilnError(f"cannot reach the server at {url}: {e.reason}") from None


@serving_endpoints.command(name="logs")
@click.argument("name")
@click.option("--tail", type=int, default=100, show_default=True)
@where_opts
def logs_cmd(name: str, tail: int, target: str | None, workspace: str | None) -> None:
    """The serving log lines about the endpoint."""
    eps = _endpoints(target, workspace)
    eps.get(name)
    from kiln.workspace.layout import serving_dir

    path = os.path.join(serving_dir(eps.ws.local_root()), "server.log")
    if not os.path.exists(path):
        echo("(no server has run for this workspace yet)")
        return
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [ln.rstrip("\n") for ln in f if f"endpoint {name}:" in ln]
    for ln in lines[-tail:]:
        echo(ln)


def _server_url(ws) -> str:  # type: ignore[no-untyped-def]
    raw = ws.get_setting(SERVER_SETTING)
    if raw:
        doc = json.loads(raw)
        try:
            os.kill(int(doc["pid"]), 0)
            return str(doc["url"])
        except (OSError, ValueError, KeyError):
            pass
    raise KilnError(f"no kiln server is running for workspace {ws.name}",
                    detail="Start one with 'kiln server' (or pass --url).")


@click.group()
def tokens() -> None:
    """Personal access tokens for the serving API."""


@tokens.command(name="create")
@click.option("--comment", default="")
@click.option("--lifetime-seconds", type=int, default=None, help="Default: no expiry.")
@click.option("--user", default=None, help="Whose token (default: the current user).")
@where_opts
def tokens_create(comment: str, lifetime_seconds: int | None, user: str | None,
                  target: str | None, workspace: str | None) -> None:
    """Create a token; its value is shown once."""
    from kiln.identity import Identities

    made = Identities(open_where(target, workspace)).create_token(comment, lifetime_seconds,
                                                                  user)
    print_json({"token_info": made["token_info"], "token_value": made["token_value"]})


@tokens.command(name="list")
@where_opts
@document_opt
def tokens_list(target: str | None, workspace: str | None) -> None:
    """Tokens of the workspace (never their values): the current user's, every user's
    for an admin (or in a workspace without admins)."""
    from kiln.identity import Identities

    ids = Identities(open_where(target, workspace))
    print_json(ids.tokens(everyone=ids.acts_as_admin()))


@tokens.command(name="revoke")
@click.argument("token_id")
@where_opts
def tokens_revoke(token_id: str, target: str | None, workspace: str | None) -> None:
    """Revoke a token."""
    from kiln.identity import Identities

    Identities(open_where(target, workspace)).revoke_token(token_id)
    echo(f"Revoked token {token_id}")
