"""Opening the workspace of a bundle target, or one named on the command line."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import click

from kiln.bundle import LoadContext, LoadResult, find_root, load_bundle
from kiln.cli.context import load_context
from kiln.errors import ConfigError, KilnError, NotFound
from kiln.profiles import all_profiles, load_profiles
from kiln.settings import Settings


def lookups_factory(settings: Settings, default_user: str):  # type: ignore[no-untyped-def]
    def factory(target: str, host: str | None, profile: str | None):  # type: ignore[no-untyped-def]
        from kiln.workspace.connect import WorkspaceLookups, connect

        ws = connect(kiln_home=settings.home, target=target, user=default_user, host=host,
                     profile=profile, profiles=profiles_of(settings), create=False,
                     env_token=settings.databricks_token, remote_ok=True)
        if ws is None:
            raise NotFound(f"workspace {target} does not exist yet (deploy the bundle first)")
        return WorkspaceLookups(ws)

    return factory


def whoami_factory(settings: Settings, profiles: Any):  # type: ignore[no-untyped-def]
    """Asks a kiln server target who its token's user is (once per host and profile)."""
    seen: dict[tuple[str, str | None], str] = {}

    def whoami(host: str, profile: str | None) -> str:
        from kiln.workspace.remote import open_remote

        if (host, profile) not in seen:
            prof = profiles.get(profile) if profile else None
            seen[host, profile] = open_remote(host, prof, profiles,
                                              settings.databricks_token).current_user()
        return seen[host, profile]

    return whoami


def load_for_target(target: str | None, var: tuple[str, ...]) -> tuple[LoadResult, LoadContext]:
    settings = Settings.from_env()
    ctx = load_context(target, var, settings)
    ctx = replace(ctx, lookups=lookups_factory(settings, ctx.user_name()),
                  whoami=whoami_factory(settings, ctx.profiles))
    return load_bundle(os.getcwd(), ctx), ctx


def require_ok(result: LoadResult) -> None:
    if not result.ok:
        raise ConfigError(result.diagnostics)


def profiles_of(settings: Settings):  # type: ignore[no-untyped-def]
    """kiln's profiles and the Databricks CLI's (``~/.databrickscfg``)."""
    return all_profiles(settings.config_file, settings.databricks_config_file)


def open_bundle_workspace(tree: dict[str, Any], ctx: LoadContext, create: bool = True,
                          remote_ok: bool = False):  # type: ignore[no-untyped-def]
    """The target's workspace: an embedded ``Workspace``, or with ``remote_ok`` a kiln
    server's ``RemoteWorkspace`` (other commands refuse a server target clearly)."""
    from kiln.workspace.connect import connect

    settings = Settings.from_env(ctx.env)
    ws = tree.get("workspace") or {}
    return connect(kiln_home=settings.home, target=tree["bundle"]["target"],
                   user=(ws.get("current_user") or {}).get("userName") or ctx.user_name(),
                   host=ws.get("host"), profile=ws.get("profile"), profiles=ctx.profiles,
                   create=create, env_token=settings.databricks_token, remote_ok=remote_ok)


def _meta() -> dict[str, Any]:
    ctx = click.get_current_context(silent=True)
    return ctx.meta if ctx is not None else {}


def open_workspace(workspace: str | None):  # type: ignore[no-untyped-def]
    """The named embedded workspace (``-w``), else the workspace of ``-t TARGET`` or of
    ``-p PROFILE``, else the one of the bundle in the current directory."""
    from kiln.settings import Settings
    from kiln.workspace.local.home import WorkspaceHome

    s = Settings.from_env()
    home = WorkspaceHome(s.home)
    meta = _meta()
    if workspace is None and meta.get("kiln.target"):
        return open_where(meta["kiln.target"], None)
    if workspace is None and meta.get("kiln.profile"):
        name = meta["kiln.profile"]
        prof = load_profiles(s.config_file).get(name)
        if prof is None:
            raise KilnError(f"profile {name} is not defined in {s.config_file}")
        workspace = prof.workspace or prof.name
    if workspace is None:
        result, ctx = load_for_target(None, ())
        require_ok(result)
        ws = open_bundle_workspace(result.plain(), ctx, create=False)
        if ws is None:
            raise NotFound("the bundle's workspace does not exist yet; deploy it first")
        return ws
    if not home.exists(workspace):
        raise NotFound(f"workspace {workspace} does not exist")
    return home.open(workspace, s.user or "kiln")


def _remember(key: str):  # type: ignore[no-untyped-def]
    def keep(ctx: click.Context, _param: Any, value: Any) -> Any:
        if value is not None:
            ctx.meta[key] = value
        return value
    return keep


# -p/--profile on every command, as the Databricks CLI has it
profile_opt = click.option("-p", "--profile", expose_value=False,
                           callback=_remember("kiln.profile"),
                           help="Profile of $KILN_HOME/config.toml whose workspace to use.")


def target_opt(f):  # type: ignore[no-untyped-def]
    """Bundle commands: ``-t TARGET`` and ``-p PROFILE``."""
    return click.option("-t", "--target", help="Bundle target to use (default: the target "
                        "marked default, or DATABRICKS_BUNDLE_TARGET).")(profile_opt(f))


def ws_opt(f):  # type: ignore[no-untyped-def]
    """``-w WORKSPACE``, ``-t TARGET``, ``-p PROFILE``: which workspace a command reads
    (default: the workspace of the bundle in the current directory)."""
    f = profile_opt(f)
    f = click.option("-t", "--target", expose_value=False, callback=_remember("kiln.target"),
                     help="Bundle target whose workspace to use.")(f)
    return click.option("-w", "--workspace",
                        help="Embedded workspace (default: the bundle's).")(f)


def open_where(target: str | None, workspace: str | None, create: bool = False
               ):  # type: ignore[no-untyped-def]
    """The workspace of a bundle target (``-t``), or an embedded one (``-w``)."""
    if workspace is None and target is not None:
        result, ctx = load_for_target(target, ())
        require_ok(result)
        ws = open_bundle_workspace(result.plain(), ctx, create=create)
        if ws is None:
            raise NotFound(f"the workspace of target {target} does not exist yet; deploy it "
                            "first")
        return ws
    return open_workspace(workspace)


def open_named(name: str):  # type: ignore[no-untyped-def]
    """A target of the bundle in the current directory, else an embedded workspace."""
    from kiln.workspace.local.home import WorkspaceHome

    try:
        find_root(os.getcwd(), os.environ)
        in_bundle = True
    except KilnError:
        in_bundle = False
    if in_bundle:
        result, ctx = load_for_target(name, ())
        if result.ok:
            ws = open_bundle_workspace(result.plain(), ctx, create=False)
            if ws is not None:
                return ws
        elif not WorkspaceHome(Settings.from_env().home).exists(name):
            raise ConfigError(result.diagnostics)
    return open_workspace(name)


def where_opts(f):  # type: ignore[no-untyped-def]
    """``-t TARGET`` / ``-w WORKSPACE`` / ``-p PROFILE``: which workspace a command works
    on."""
    f = profile_opt(f)
    f = click.option("-w", "--workspace", help="An embedded workspace, instead of a target."
                     )(f)
    return click.option("-t", "--target", help="Bundle target whose workspace to use.")(f)
