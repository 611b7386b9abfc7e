"""What loading a bundle needs from outside the bundle files.

The bundle engine does no I/O beyond reading the bundle's own files: the caller (the CLI,
the server, a test) passes the environment, the command-line variables, the profiles of
``$KILN_HOME/config.toml`` and, when a workspace is at hand, a resolver for ``lookup``
variables.
"""

from __future__ import annotations

import getpass
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from kiln.errors import KilnError
from kiln.profiles import Profile


class LookupError_(KilnError):
    """A ``lookup`` variable named an object that the workspace does not have."""


class Lookups(Protocol):
    def resolve(self, kind: str, name: str) -> str:
        """The id of the object of ``kind`` (job, cluster, warehouse, ...) named ``name``.

        Raises ``KilnError`` when there is no such object.
        """
        ...


class LookupsFactory(Protocol):
    def __call__(self, target: str, host: str | None, profile: str | None) -> Lookups:
        """Lookups in the workspace a target uses (its ``workspace.host``/``profile``)."""
        ...


class WhoAmI(Protocol):
    def __call__(self, host: str, profile: str | None) -> str:
        """The user a kiln server knows the target's token as (raises ``KilnError``)."""
        ...


@dataclass(frozen=True)
class LoadContext:
    target: str | None = None
    cli_vars: tuple[tuple[str, str], ...] = ()  # --var name=value, in order (repeats kept)
    env: Mapping[str, str] = field(default_factory=dict)
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    default_user: str = ""
    profiles_file: str = "config.toml"
    lookups: Lookups | LookupsFactory | None = None
    profile: str | None = None  # -p: overrides the target's workspace.profile
    whoami: WhoAmI | None = None  # the current user of a kiln server target

    def user_name(self) -> str:
        return self.default_user or f"{getpass.getuser()}@localhost"


def short_name(user_name: str) -> str:
    """``Alice.Smith@example.com`` → ``alice_smith``, as the CLI derives dev prefixes."""
    local = user_name.split("@", 1)[0]
    return re.sub(r"[^a-z0-9]+", "_", local.lower()).strip("_") or "user"
