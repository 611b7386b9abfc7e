"""``kiln workspace list | show | delete`` and ``kiln auth whoami``."""

from __future__ import annotations

import click

from kiln.cli.render import echo, output_opt, print_json, print_rows
from kiln.cli.workspaces import open_where, where_opts, ws_opt
from kiln.errors import KilnError, NotFound
from kiln.profiles import all_profiles, is_databricks_host
from kiln.settings import Settings


def _home():  # type: ignore[no-untyped-def]
    from kiln.workspace.local.home import WorkspaceHome  # SQLAlchemy: only when needed

    s = Settings.from_env()
    return s, WorkspaceHome(s.home)


@click.group()
def workspace() -> None:
    """Embedded workspaces under $KILN_HOME/workspaces."""


@workspace.command(name="list")
@output_opt
def list_cmd(output: str) -> None:
    """List the embedded workspaces."""
    s, home = _home()
    rows = []
    for name in home.names():
        ws = home.open(name, s.user or "kiln")
        try:
            rows.append({"name": name, "objects": len(ws.list()), "size_bytes": home.size(name)})
        finally:
            ws.close()
    print_rows(output, "workspaces", rows, empty=f"No workspaces in {home.root}",
               header=f"{'NAME':24} {'OBJECTS':>8} {'SIZE':>10}",
               line=lambda r: f"{r['name']:24} {r['objects']:>8} {_size(r['size_bytes']):>10}")


@workspace.command()
@click.argument("name")
def show(name: str) -> None:
    """Show a workspace: where it lives and what it holds."""
    s, home = _home()
    if not home.exists(name):
        raise NotFound(f"workspace {name} does not exist",
                        detail="Existing workspaces: " + (", ".join(home.names()) or "none"))
    ws = home.open(name, s.user or "kiln")
    try:
        objects = ws.list()
        echo(f"Name: {name}")
        echo(f"Path: {home.path(name)}")
        echo(f"Size: {_size(home.size(name))}")
        by_kind: dict[str, int] = {}
        for o in objects:
            by_kind[o.kind] = by_kind.get(o.kind, 0) + 1
        echo("Objects:" + ("" if by_kind else " none"))
        for kind in sorted(by_kind):
            echo(f"  {kind}: {by_kind[kind]}")
    finally:
        ws.close()


@workspace.command()
@click.argument("name")
@click.option("--auto-approve", is_flag=True, help="Delete without asking.")
def delete(name: str, auto_approve: bool) -> None:
    """Delete a workspace and everything in it."""
    _, home = _home()
    if not home.exists(name):
        raise NotFound(f"workspace {name} does not exist")
    if not auto_approve:
        import sys

        from kiln.cli.render import is_tty

        if not is_tty(sys.stdin):
            raise KilnError(f"deleting workspace {name} needs --auto-approve when there is no "
                            "terminal to ask on")
        if not click.confirm(f"Delete workspace {name} and everything in it?", default=False):
            raise KilnError("cancelled")
    home.delete(name)
    echo(f"Deleted workspace {name}")


@click.group()
def auth() -> None:
    """Identity: who kiln acts as."""


@auth.command()
@click.option("-p", "--profile", help="A profile of $KILN_HOME/config.toml or ~/.databrickscfg "
              "(a kiln server's profile: the user its token belongs to).")
def whoami(profile: str | None) -> None:
    """Print the current user."""
    s = Settings.from_env()
    if profile:
        profiles = all_profiles(s.config_file, s.databricks_config_file)
        prof = profiles.get(profile)
        if prof is None:
            raise KilnError(f"profile {profile} is not defined in {s.config_file} or "
                            f"{s.databricks_config_file}")
        if prof.host and prof.host.startswith(("http://", "https://")) \
                and not is_databricks_host(prof.host):
            from kiln.workspace.remote import open_remote

            echo(open_remote(prof.host, prof, profiles, s.databricks_token).current_user())
            return
        if prof.user:
            echo(prof.user)
            return
    import getpass

    echo(s.user or f"{getpass.getuser()}@localhost")


@auth.command(name="profiles")
@output_opt
def profiles_cmd(output: str) -> None:
    """List the profiles of $KILN_HOME/config.toml and ~/.databrickscfg, and whether their
    workspace exists."""
    s, home = _home()
    rows = [{"name": p.name, "workspace": p.workspace or ("" if p.host else p.name),
             "host": p.host or "", "user": p.user or "",
             # a server is not reached from here: its validity is unknown (null)
             "valid": None if p.host else home.exists(p.workspace or p.name)}
            for p in all_profiles(s.config_file, s.databricks_config_file).values()]
    print_rows(output, "profiles", rows, empty=f"No profiles in {s.config_file}",
               header=f"{'NAME':16} {'WORKSPACE / HOST':32} {'USER':28} VALID",
               line=lambda r: f"{r['name']:16} {r['host'] or r['workspace']:32} "
                              f"{r['user']:28} "
                              f"{'-' if r['valid'] is None else 'YES' if r['valid'] else 'NO'}")


@auth.command(name="login")
@click.option("-p", "--profile", required=True, help="The profile to write.")
@click.option("--workspace", "ws_name", help="Embedded workspace (default: the profile name).")
@click.option("--host", help="A kiln server, instead of an embedded workspace.")
@click.option("--user", help="Who kiln acts as with this profile.")
def login_cmd(profile: str, ws_name: str | None, host: str | None, user: str | None) -> None:
    """Save a profile in $KILN_HOME/config.toml (kiln has no browser login: the profile
    names a workspace or server and a user)."""
    from kiln.profiles import Profile, save_profile

    s = Settings.from_env()
    if ws_name and host:
        raise KilnError("a profile names an embedded workspace or a host, not both")
    save_profile(s.config_file, Profile(profile, workspace=ws_name or (None if host else profile),
                                        host=host, user=user))
    echo(f"Profile {profile} saved to {s.config_file}")


@auth.command(name="token")
@where_opts
@click.option("--lifetime-seconds", type=int, default=3600, show_default=True)
def token_cmd(target: str | None, workspace: str | None, lifetime_seconds: int) -> None:
    """Issue a token for the current user of the workspace (JSON, as the Databricks CLI
    prints its tokens)."""
    import time

    from kiln.cli.workspaces import open_where

    ws = open_where(target, workspace)
    _, value = ws.create_token(ws.current_user(), "kiln auth token", lifetime_seconds)
    print_json({"access_token": value, "token_type": "Bearer",
                "expiry": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                        time.gmtime(time.time() + lifetime_seconds))},
               sort_keys=False)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value, unit = float(n), "B"
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024:
            break
    return f"{value:.1f} {unit}"


@click.command(name="env")
@where_opts
def env_cmd(target: str | None, workspace: str | None) -> None:
    """Print the environment that binds a local session to a workspace.

    `eval "$(kiln env -t dev)"` and then kiln.tables, kiln.sql, kiln.lifecycle,
    dbutils.secrets and MLflow in a Python session or notebook work against the dev
    workspace, as in a job task.
    """
    import shlex

    from kiln.jobs.runner import workspace_env

    ws = open_where(target, workspace, create=True)
    for key, value in sorted(workspace_env(ws.local_root()).items()):
        echo(f"export {key}={shlex.quote(value)}")


@click.group()
def audit() -> None:
    """The workspace's audit log: deployments, secrets, table writes, catalog changes."""


@audit.command(name="list")
@ws_opt
@click.option("--limit", type=int, default=50, show_default=True)
@output_opt
def audit_list(workspace: str | None, limit: int, output: str) -> None:
    """List the most recent audit entries, newest first."""
    import time

    from kiln.cli.workspaces import open_workspace

    entries = open_workspace(workspace).audit_log(limit)
    if output == "json":
        print_json(entries)
        return
    for e in entries:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["ts"] / 1000))
        echo(f"{when}  {e['user']:24} {e['action']:22} {e['target']}")
