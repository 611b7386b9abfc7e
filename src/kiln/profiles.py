"""Profiles of ``$KILN_HOME/config.toml``: named workspaces, servers and identities."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass

from kiln.diag import Location
from kiln.errors import KilnError


@dataclass(frozen=True)
class Profile:
    name: str
    workspace: str | None = None  # embedded workspace name
    host: str | None = None  # a kiln server
    user: str | None = None
    token: str | None = None


def load_profiles(path: str) -> dict[str, Profile]:
    """Profiles of ``config.toml``::

        [profiles.staging]
        workspace = "staging"            # embedded workspace name
        host = "http://127.0.0.1:8765"   # or a kiln server
        user = "ci-bot@example.com"
        token = "..."
    """
    if not os.path.exists(path):
        return {}
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        line = getattr(e, "lineno", 1) or 1
        col = getattr(e, "colno", 1) or 1
        raise KilnError(f"cannot parse {path}: {e}", location=Location(path, line, col)) from None
    except OSError as e:
        raise KilnError(f"cannot read {path}: {e.strerror}") from None
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise KilnError(f"{path}: 'profiles' must be a table")
    out = {}
    for name, body in profiles.items():
        if not isinstance(body, dict):
            raise KilnError(f"{path}: profile {name} must be a table")
        out[name] = Profile(name=name, **{k: str(v) for k, v in body.items()
                                          if k in ("workspace", "host", "user", "token")})
    return out
