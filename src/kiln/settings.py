"""Every setting kiln reads from the environment, declared once with its type and default.

Nothing else in kiln reads ``os.environ`` for its own settings: it receives a
``Settings`` (or the mapping it was made from) from the edge.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field

from kiln.bundle.context import Profile
from kiln.diag import Location
from kiln.errors import KilnError


@dataclass(frozen=True)
class Settings:
    env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        return cls(dict(os.environ if env is None else env))

    @property
    def home(self) -> str:
        """``KILN_HOME``: where workspaces and ``config.toml`` live (default ``~/.kiln``)."""
        return os.path.abspath(os.path.expanduser(self.env.get("KILN_HOME") or "~/.kiln"))

    @property
    def user(self) -> str:
        """``KILN_USER``: the current user when no profile names one."""
        return self.env.get("KILN_USER", "")

    @property
    def bundle_target(self) -> str | None:
        """``DATABRICKS_BUNDLE_TARGET``: the target when ``-t`` is not given."""
        return self.env.get("DATABRICKS_BUNDLE_TARGET") or None

    @property
    def config_file(self) -> str:
        return os.path.join(self.home, "config.toml")


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
