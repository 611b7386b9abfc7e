"""The workspace section: current user and the bundle's workspace paths.

The current user is the one a kiln server target's token belongs to; else it comes from
the target's ``workspace.profile`` (``$KILN_HOME/config.toml``), else ``KILN_USER``, else
``<os user>@localhost``. ``root_path`` defaults to
``~/.bundle/<bundle name>/<target>`` (written out, as the CLI does); ``~/`` expands to
``/Workspace/Users/<userName>/``; ``file_path``, ``artifact_path``, ``resource_path`` and
``state_path`` default under it.
"""

from __future__ import annotations

from kiln.diag import Diagnostic, Severity
from kiln.errors import KilnError
from kiln.profiles import is_databricks_host
from kiln.bundle.context import short_name
from kiln.bundle.dyn.value import NIL_LOC, Value, from_plain, set_path
from kiln.bundle.edit import get_str
from kiln.bundle.state import Loading

_SUBPATHS = (("file_path", "files"), ("artifact_path", "artifacts"),
             ("resource_path", "resources"), ("state_path", "state"))


def define_workspace(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    config = b.config
    ws = config.get("workspace")
    ws_map: dict[str, Value] = dict(ws.v) if ws is not None and ws.is_map else {}

    user = b.ctx.user_name()
    if b.ctx.profile:  # -p on the command line wins over the bundle's profile
        ws_map["profile"] = Value(b.ctx.profile)
    prof = ws_map.get("profile")
    if prof is not None and isinstance(prof.v, str) and prof.v:
        profile = b.ctx.profiles.get(prof.v)
        if profile is None:
            diags.append(Diagnostic(
                Severity.ERROR, f"profile {prof.v} is not defined in {b.ctx.profiles_file}",
                locations=(prof.loc,), paths=(("workspace", "profile"),)))
        else:
            user = profile.user or user
            if profile.host and "host" not in ws_map:
                ws_map["host"] = Value(profile.host)
    host = ws_map.get("host")
    if b.ctx.whoami is not None and host is not None and isinstance(host.v, str) \
            and host.v.startswith(("http://", "https://")) and not is_databricks_host(host.v):
        try:  # a kiln server: the current user is its token's, as the CLI asks the host
            user = b.ctx.whoami(host.v, prof.v if prof is not None else None)
        except KilnError as e:
            diags.append(Diagnostic(Severity.ERROR, e.summary, e.detail,
                                    locations=(host.loc,), paths=(("workspace", "host"),)))
    ws_map["current_user"] = from_plain({"userName": user, "short_name": short_name(user)})

    root = ws_map.get("root_path")
    if root is None or not isinstance(root.v, str) or not root.v:
        root = Value(f"~/.bundle/{get_str(config, 'bundle', 'name') or ''}/"
                     f"{get_str(config, 'bundle', 'target') or ''}")
    ws_map["root_path"] = root.with_v(expand_home(root.v, user))
    for key, sub in _SUBPATHS:
        cur = ws_map.get(key)
        if cur is None or cur.is_nil:
            ws_map[key] = Value(ws_map["root_path"].v + "/" + sub, NIL_LOC)
        elif isinstance(cur.v, str):
            ws_map[key] = cur.with_v(expand_home(cur.v, user))
    for key in ("root_path", *(k for k, _ in _SUBPATHS)):
        cur = ws_map.get(key)
        if cur is not None and isinstance(cur.v, str) and cur.v.startswith("/") \
                and not cur.v.startswith(("/Workspace/", "/Volumes/")):
            ws_map[key] = cur.with_v("/Workspace" + cur.v)  # as the CLI: under /Workspace
    config = set_path(config, ("workspace",), Value(ws_map, ws.loc if ws else NIL_LOC,
                                                    ws.kloc if ws else None))
    return b.with_config(config), diags


def expand_home(path: str, user: str) -> str:
    if path == "~":
        return f"/Workspace/Users/{user}"
    if path.startswith("~/"):
        return f"/Workspace/Users/{user}/{path[2:]}"
    return path
