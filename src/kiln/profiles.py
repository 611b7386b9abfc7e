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


def save_profile(path: str, profile: Profile) -> None:
    """Add or replace ``[profiles.<name>]`` in ``config.toml``; other profiles and tables
    stay (comments do not: the file is written anew)."""
    data: dict[str, object] = {}
    if os.path.exists(path):
        with open(path, "rb") as f:
            data = tomllib.load(f)
    profiles = dict(data.get("profiles") or {})  # type: ignore[arg-type]
    profiles[profile.name] = {k: v for k, v in (("workspace", profile.workspace),
                                                ("host", profile.host), ("user", profile.user),
                                                ("token", profile.token)) if v}
    data["profiles"] = profiles
    lines: list[str] = []
    for key, value in data.items():
        if not isinstance(value, dict):
            lines.append(f"{key} = {_toml(value)}")
    for table, body in data.items():
        if not isinstance(body, dict):
            continue
        plain = {k: v for k, v in body.items() if not isinstance(v, dict)}
        if plain:
            lines += ["", f"[{table}]"] + [f"{k} = {_toml(v)}" for k, v in plain.items()]
        for sub, inner in body.items():
            if isinstance(inner, dict):
                lines += ["", f"[{table}.{_key(sub)}]"]
                lines += [f"{k} = {_toml(v)}" for k, v in inner.items()]
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines).lstrip("\n") + "\n")
    os.replace(tmp, path)


def _toml(value: object) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(str(value))  # a TOML basic string: JSON's escapes are TOML's


def _key(name: str) -> str:
    import re

    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _toml(name)
