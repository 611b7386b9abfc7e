"""Which workspace a bundle target (or a CLI command) talks to.

``workspace.profile`` names a profile of ``$KILN_HOME/config.toml`` (its ``workspace``
name, ``host`` and ``user``); ``workspace.host`` set to ``http://...`` means a kiln server (its token from the
profile, ``DATABRICKS_TOKEN`` or a ``~/.databrickscfg`` profile of that host); a Databricks cloud host
(``*.azuredatabricks.net``, ``*.cloud.databricks.com``, ...) and no host at all mean the
embedded workspace named after the target, so bundles written for Databricks deploy
locally unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

from kiln.errors import KilnError
from kiln.profiles import Profile, is_databricks_host
from kiln.workspace.api import DeployTarget, NotFound


def workspace_name(target: str, profile: Profile | None) -> str:
    if profile is not None:
        return profile.workspace or profile.name
    return target


def connect(*, kiln_home: str, target: str, user: str, host: str | None = None,
            profile: str | None = None, profiles: Mapping[str, Profile] | None = None,
            create: bool = True, env_token: str | None = None, remote_ok: bool = False
            ) -> DeployTarget | None:
    """The workspace; with ``create=False``, None when it does not exist yet. A kiln
    server's workspace (an ``http://`` host) is a ``RemoteWorkspace``, for the commands
    that work through a server (``remote_ok``); the others are refused clearly."""
    prof = None
    if profile:
        prof = (profiles or {}).get(profile)
        if prof is None:
            raise KilnError(f"profile {profile} is not defined in {kiln_home}/config.toml "
                            "or ~/.databrickscfg")
        host = host or prof.host
        user = prof.user or user
    if host and is_databricks_host(host):
        host = None  # a bundle written for Databricks: kiln runs it in its own workspace
    if host and host.startswith(("http://", "https://")):
        if not remote_ok:
            raise KilnError(f"target {target} is the kiln server at {host}: this command "
                            "works on an embedded workspace",
                            detail="Through a server: kiln bundle validate, plan, deploy, "
                                   "summary, run and destroy, or the server's REST API "
                                   "(databricks-sdk, MLflow).")
        from kiln.workspace.remote import open_remote

        return open_remote(host, prof, profiles or {}, env_token)
    from kiln.workspace.local.home import WorkspaceHome  # SQLAlchemy: only when needed

    home = WorkspaceHome(kiln_home)
    name = workspace_name(target, prof)
    if not create and not home.exists(name):
        return None
    return home.open(name, user)


class WorkspaceLookups:
    """Resolves ``lookup`` variables against a workspace's objects."""

    _KINDS = {"job": "jobs"}

    def __init__(self, ws: DeployTarget) -> None:
        self.ws = ws

    def resolve(self, kind: str, name: str) -> str:
        stored = self._KINDS.get(kind)
        if stored is not None:
            hits = self.ws.list(stored, name=name)
            if len(hits) == 1:
                return hits[0].id
            if len(hits) > 1:
                raise KilnError(f"workspace {self.ws.name} has {len(hits)} {kind}s named {name!r}")
        raise NotFound(f"workspace {self.ws.name} has no {kind} named {name!r}")
