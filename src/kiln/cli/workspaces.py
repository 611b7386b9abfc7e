"""Opening the workspace of a bundle target, or one named on the command line."""

from __future__ import annotations

from typing import Any

from kiln.bundle import LoadContext, LoadResult, load_bundle
from kiln.cli.context import cwd, load_context
from kiln.errors import ConfigError, KilnError
from kiln.settings import Settings, load_profiles
from kiln.workspace import Workspace


def lookups_factory(settings: Settings, default_user: str):  # type: ignore[no-untyped-def]
    def factory(target: str, host: str | None, profile: str | None):  # type: ignore[no-untyped-def]
        from kiln.workspace.connect import WorkspaceLookups, connect

        ws = connect(kiln_home=settings.home, target=target, user=default_user, host=host,
                     profile=profile, profiles=load_profiles(settings.config_file), create=False)
        if ws is None:
            raise KilnError(f"workspace {target} does not exist yet (deploy the bundle first)")
        return WorkspaceLookups(ws)

    return factory


def load_for_target(target: str | None, var: tuple[str, ...]) -> tuple[LoadResult, LoadContext]:
    settings = Settings.from_env()
    ctx = load_context(target, var, settings)
    ctx = LoadContext(**{**ctx.__dict__,
                         "lookups": lookups_factory(settings, ctx.user_name())})
    return load_bundle(cwd(), ctx), ctx


def require_ok(result: LoadResult) -> None:
    if not result.ok:
        raise ConfigError(result.diagnostics)


def open_bundle_workspace(tree: dict[str, Any], ctx: LoadContext, create: bool = True
                          ) -> Workspace | None:
    from kiln.workspace.connect import connect

    settings = Settings.from_env(ctx.env)
    ws = tree.get("workspace") or {}
    return connect(kiln_home=settings.home, target=tree["bundle"]["target"],
                   user=(ws.get("current_user") or {}).get("userName") or ctx.user_name(),
                   host=ws.get("host"), profile=ws.get("profile"), profiles=ctx.profiles,
                   create=create)
