"""Profiles of ``$KILN_HOME/config.toml``: named workspaces, servers and identities."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass

from kiln.diag import Location
from kiln.errors import KilnError


_DATABRICKS_DOMAINS = (".azuredatabricks.net", ".cloud.databricks.com", ".gcp.databricks.com",
                      ".databricks.azure.cn", ".cloud.databricks.us")


def is_databricks_host(host: str) -> bool:
    """A Databricks cloud workspace URL (kiln uses its embedded workspace instead)."""
    bare = host.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    return bare.endswith(_DATABRICKS_DOMAINS)


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


def load_databrickscfg(path: str) -> dict[str, Profile]:
    """The profiles of the Databricks CLI's ``~/.databrickscfg`` (INI sections with
    ``host`` and ``token``; ``[DEFAULT]`` is a profile too when it has a host)."""
    import configparser

    if not os.path.exists(path):
        return {}
    parser = configparser.ConfigParser(interpolation=None, default_section="__none__")
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError) as e:
        raise KilnError(f"cannot read {path}: {e}") from None
    out = {}
    for name in parser.sections():
        body = parser[name]
        if body.get("host"):
            out[name] = Profile(name=name, host=body.get("host"), token=body.get("token"),
                                user=body.get("username"))
    return out


def all_profiles(config_file: str, databricks_config_file: str) -> dict[str, Profile]:
    """kiln's profiles, then the Databricks CLI's that kiln does not define."""
    return {**load_databrickscfg(databricks_config_file), **load_profiles(config_file)}


def token_for(host: str, profile: Profile | None, profiles: dict[str, Profile] | None,
              env_token: str | None) -> str | None:
    """The token for a kiln server: the profile's, else ``DATABRICKS_TOKEN``, else that of
    the first profile with the same host (as the Databricks CLI matches profiles)."""
    if profile is not None and profile.token:
        return profile.token
    if env_token:
        return env_token
    want = host.rstrip("/")
    return next((p.token for p in (profiles or {}).values()
                 if p.token and (p.host or "").rstrip("/") == want), None)


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
