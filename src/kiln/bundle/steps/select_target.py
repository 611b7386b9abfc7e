"""Pick the target and merge its overrides into the root configuration.

No targets means a synthesized ``default`` target; a single target is picked
automatically; otherwise ``-t``/``DATABRICKS_BUNDLE_TARGET`` or the one target marked
``default: true``. The target's sections merge into the root (maps key by key, sequences
concatenated); ``mode``, ``cluster_id``, ``compute_id`` and ``git`` move under ``bundle``;
``run_as`` replaces; target ``variables`` replace the root variable's default or lookup.
``targets`` (or its old name ``environments``) is gone from the result.
"""

from __future__ import annotations

from kiln.diag import Diagnostic, Location, Severity
from kiln.bundle.dyn.value import NIL_LOC, Value, set_path
from kiln.bundle.merge import MergeError, merge
from kiln.bundle.normalize import normalize
from kiln.bundle.state import Loading
from kiln.bundle.typetree import bundle_type

_TO_BUNDLE = ("mode", "cluster_id", "compute_id")
_REPLACED = ("run_as",)
_SPECIAL = {"default", "variables", "git", *_TO_BUNDLE, *_REPLACED}


def select_target(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    config = b.config
    targets_v = config.get("targets")
    envs_v = config.get("environments")
    if targets_v is not None and envs_v is not None and not targets_v.is_nil and not envs_v.is_nil:
        return b, [Diagnostic(Severity.ERROR,
                              "both 'targets' and 'environments' are specified; only 'targets' "
                              "should be used", locations=(envs_v.key_loc(),))]
    section = targets_v if targets_v is not None and not targets_v.is_nil else envs_v
    targets: dict[str, Value] = dict(section.v) if section is not None and section.is_map else {}
    if not targets:
        targets = {"default": Value(None)}

    where = (section.key_loc(),) if section is not None else (config.loc,)
    name, err = _choose(targets, b.ctx.target, where)
    if err is not None:
        return b, [err]
    assert name is not None
    target = targets[name]
    body: dict[str, Value] = dict(target.v) if target.is_map else {}

    root = Value({k: v for k, v in config.v.items() if k not in ("targets", "environments")},
                 config.loc)
    overrides = Value({k: v for k, v in body.items() if k not in _SPECIAL}, target.loc)
    try:
        root = merge(root, overrides)
    except MergeError as e:
        diags.extend(e.diagnostics())
        return b.with_config(root), diags

    for key in _TO_BUNDLE:
        if key in body and not body[key].is_nil:
            root = set_path(root, ("bundle", key), body[key])
    if "git" in body and not body["git"].is_nil:
        cur = root.get("bundle")
        git = cur.get("git") if cur is not None else None
        try:
            root = set_path(root, ("bundle", "git"),
                            merge(git, body["git"]) if git is not None else body["git"])
        except MergeError as e:
            diags.extend(e.diagnostics())
    for key in _REPLACED:
        if key in body and not body[key].is_nil:
            root = set_path(root, (key,), body[key])
    if "variables" in body and body["variables"].is_map:
        root, more = _override_variables(root, body["variables"], name)
        diags.extend(more)

    root = set_path(root, ("bundle", "target"), Value(name, target.loc))
    root = set_path(root, ("bundle", "environment"), Value(name, target.loc))  # its old name
    return b.with_config(root), diags


def _choose(targets: dict[str, Value], requested: str | None, where: tuple[Location, ...]
            ) -> tuple[str | None, Diagnostic | None]:
    if requested:
        if requested in targets:
            return requested, None
        return None, Diagnostic(Severity.ERROR, f"{requested}: no such target. Available targets: "
                                + ", ".join(sorted(targets)), locations=where)
    if len(targets) == 1:
        return next(iter(targets)), None
    defaults = [n for n, t in targets.items()
                if t.is_map and t.get("default") is not None and t.v["default"].v is True]
    if len(defaults) > 1:
        return None, Diagnostic(Severity.ERROR, "multiple targets are marked as default: "
                                + ", ".join(sorted(defaults)),
                                locations=tuple(targets[n].v["default"].loc for n in defaults))
    if not defaults:
        return None, Diagnostic(Severity.ERROR, "please specify target",
                                detail="Use -t TARGET or set DATABRICKS_BUNDLE_TARGET. "
                                       "Available targets: " + ", ".join(sorted(targets)),
                                locations=where)
    return defaults[0], None


_VAR_FIELDS = {"default", "lookup", "description", "type"}


def _override_variables(root: Value, tvars: Value, target: str) -> tuple[Value, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    defined = root.get("variables")
    defined_v = defined.v if defined is not None and defined.is_map else {}
    var_type = bundle_type().fields["variables"].item  # type: ignore[union-attr]
    for name, tv in tvars.v.items():
        path = ("targets", target, "variables", name)
        base = defined_v.get(name)
        if base is None:
            diags.append(Diagnostic(Severity.ERROR,
                                    f"variable {name} is not defined but is assigned a value",
                                    locations=(tv.key_loc(),), paths=(path,)))
            continue
        if tv.is_map and set(tv.v) <= _VAR_FIELDS and tv.v:
            override, more = normalize(tv, var_type, path)
            diags.extend(more)
        else:
            override = Value({"default": tv}, tv.loc, tv.kloc)
        if override is None or not override.is_map:
            continue
        new = dict(base.v) if base.is_map else {}
        if "default" in override.v:
            new.pop("lookup", None)
        if "lookup" in override.v:
            new.pop("default", None)
        new.update(override.v)
        root = set_path(root, ("variables", name), Value(new, base.loc or NIL_LOC, base.kloc))
    return root, diags
