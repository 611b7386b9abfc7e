"""``include:``: expand globs relative to the root and merge the files into the root config.

Entries expand in the order written, matches sorted within an entry and deduplicated; an
absolute path, a match that is not YAML/JSON, and a literal path that matches nothing are
errors. ``include`` inside an included file is a warning and is ignored. The same resource
key defined twice (in any two files, across resource types) is an error naming both places.
"""

from __future__ import annotations

import glob
import os

from kiln.diag import Diagnostic, Location, Severity, has_errors
from kiln.bundle.dyn.value import Value
from kiln.bundle.merge import MergeError, merge
from kiln.bundle.state import Loading
from kiln.bundle.steps.load import load_config_file

_CONFIG_EXTS = (".yml", ".yaml", ".json")
_GLOB_CHARS = set("*?[")


def process_includes(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    chars = [c for c in b.root if c in _GLOB_CHARS]
    if chars:  # the include patterns are matched under the root: it must not be a pattern
        return b, [Diagnostic(Severity.ERROR, "Bundle root path contains glob pattern characters",
                              detail=f"The path to the bundle root {b.root} contains glob "
                                     f"pattern character {chars[0]!r}. Remove it from the path "
                                     "to use bundle commands.")]
    entries = b.config.get("include")
    files: list[str] = []
    seen = {b.root_file}
    for entry in (entries.v if entries is not None and entries.is_seq else []):
        pattern = entry.v
        if not isinstance(pattern, str) or not pattern:
            continue
        if os.path.isabs(pattern):
            diags.append(Diagnostic(Severity.ERROR,
                                    f"include path must be relative to the bundle root: {pattern}",
                                    locations=(entry.loc,), paths=(("include",),)))
            continue
        matches = sorted(glob.glob(pattern, root_dir=b.root))
        matches = [m for m in matches if os.path.isfile(os.path.join(b.root, m))]
        if not matches and not (_GLOB_CHARS & set(pattern)):
            diags.append(Diagnostic(Severity.ERROR,
                                    f"{pattern} defined in 'include' section does not match any files",
                                    locations=(entry.loc,), paths=(("include",),)))
            continue
        for m in matches:
            rel = os.path.normpath(m)
            if rel in seen:
                continue
            seen.add(rel)
            if not rel.endswith(_CONFIG_EXTS):
                diags.append(Diagnostic(
                    Severity.ERROR,
                    "Files in the 'include' configuration section must be YAML or JSON files.",
                    detail=f"The file {rel} in the 'include' configuration section is not a "
                           "YAML or JSON file, and only such files are supported.",
                    locations=(entry.loc,), paths=(("include",),)))
                continue
            files.append(rel)
    if has_errors(diags):
        return b, diags

    config = b.config
    owners = _resource_owners(config, {})
    for rel in files:
        value, more = load_config_file(b.root, rel)
        diags.extend(more)
        inc = value.get("include")
        if inc is not None:
            diags.append(Diagnostic(Severity.WARNING, "Include section is defined outside root file",
                                    locations=(inc.key_loc(),), paths=(("include",),)))
            value = Value({k: v for k, v in value.v.items() if k != "include"}, value.loc)
        _resource_owners(value, owners)
        try:
            config = merge(config, value)
        except MergeError as e:
            diags.extend(e.diagnostics())
    diags.extend(_duplicates(owners))
    return b.with_config(config), diags


def _resource_owners(config: Value, owners: dict[str, list[tuple[str, Location]]]
                     ) -> dict[str, list[tuple[str, Location]]]:
    res = config.get("resources")
    if res is None or not res.is_map:
        return owners
    for rtype, group in res.v.items():
        if group.is_map:
            for key, val in group.v.items():
                owners.setdefault(key, []).append((f"resources.{rtype}.{key}", val.key_loc()))
    return owners


def _duplicates(owners: dict[str, list[tuple[str, Location]]]) -> list[Diagnostic]:
    return [
        Diagnostic(Severity.ERROR, f"multiple resources have been defined with the same key: {key}",
                   locations=tuple(loc for _, loc in defs),
                   paths=tuple(tuple(p.split(".")) for p, _ in defs))
        for key, defs in owners.items() if len(defs) > 1
    ]
