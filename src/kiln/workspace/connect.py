"""Which workspace a bundle target (or a CLI command) talks to.

``workspace.profile`` names a profile of ``$KILN_HOME/config.toml`` (its ``workspace``
name, ``host`` and ``user``); ``workspace.host`` set to ``http://...`` means a kiln server; a Databricks cloud host
(``*.azuredatabricks.net``, ``*.cloud.databricks.com``, ...) and no host at all mean the
embedded workspace named after the target, so bundles written for Databricks deploy
locally unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

from kiln.errors import KilnError
from kiln.profiles import Profile
from kiln.workspace.api import NotFound, Workspace


_DATABRICKS_DOMAINS = (".azuredatabricks.net", ".cloud.databricks.com", ".gcp.databricks.com",
                      ".databricks.azure.cn", ".cloud.databricks.us")


def is_databricks_host(host: str) -> bool:
    """A Databricks cloud workspace URL (kiln uses its embedded workspace instead)."""
    bare = host.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    return bare.endswith(_DATABRICKS_DOMAINS)


def workspace_name(target: str, profile: Profile | None) -> str:
    if profile is not None:
        return profile.workspace or profile.name
    return target


def connect(*, kiln_home: str, target: str, user: str, host: str | None = None,
            profile: str | None = None, profiles: Mapping[str, Profile] | None = None,
            create: bool = True) -> Workspace | None:
    """The workspace; with ``create=False``, None when it does not exist yet."""
    prof = None
    if profile:
        prof = (profiles or {}).get(profile)
        if prof is None:
            raise KilnError(f"profile {profile} is not defined in {kiln_home}/config.toml")
        host = host or prof.host
        user = prof.user or user
    if host and is_databricks_host(host):
        host = None  # a bundle written for Databricks: kiln runs it in its own workspace
    if host and host.startswith(("http://", "https://")):
        raise KilnError(f"workspace host {host}: connecting to a kiln server is not available "
                        "in this version of kiln; leave workspace.host unset to use the "
                        "embedded workspace")
    from kiln.workspace.local.home import WorkspaceHome  # SQLAlchemy: only when needed

    home = WorkspaceHome(kiln_home)
    name = workspace_name(target, prof)
    if not create and not home.exists(name):
        return None
    return home.open(name, user)


class WorkspaceLookups:
    """Resolves ``lookup`` variables against a workspace's objects."""

    _KINDS = {"job": "jobs"}

    def __init__(self, ws: Workspace) -> None:
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
