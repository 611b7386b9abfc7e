"""``${resources.<type>.<key>.<field>}`` at deploy time: resolved against deployed objects."""

from __future__ import annotations

from typing import Any

from kiln.bundle.refs import REF, parse_ref_path
from kiln.errors import KilnError
from kiln.workspace import ObjectInfo


def references(obj: Any) -> set[str]:
    """The addresses (``jobs.train``) a settings tree refers to."""
    found: set[str] = set()
    _walk_strings(obj, lambda s: found.update(_addresses(s)))
    return found


def _addresses(s: str) -> list[str]:
    if "${resources." not in s:
        return []
    out = []
    for m in REF.finditer(s):
        parts = parse_ref_path(m.group(1))
        if parts[0] == "resources" and len(parts) >= 3:
            out.append(f"{parts[1]}.{parts[2]}")
    return out


def _walk_strings(obj: Any, fn) -> None:  # type: ignore[no-untyped-def]
    if isinstance(obj, str):
        fn(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            _walk_strings(v, fn)
    elif isinstance(obj, list):
        for v in obj:
            _walk_strings(v, fn)


def field_value(info: ObjectInfo, field: tuple[str | int, ...]) -> Any:
    if not field:
        raise KilnError("a resource reference must name a field, e.g. ${resources.jobs.x.id}")
    head = field[0]
    if head == "id":
        return int(info.id) if info.kind == "jobs" else info.id
    if head == "name":
        return info.name
    cur: Any = info.settings
    for part in field:
        if isinstance(cur, dict) and isinstance(part, str) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and part < len(cur):
            cur = cur[part]
        else:
            raise KilnError(f"{info.kind}.{info.id} has no field {'.'.join(map(str, field))}")
    return cur


def resolve(obj: Any, deployed: dict[str, ObjectInfo]) -> Any:
    """A copy of ``obj`` with resource references replaced by deployed values."""
    if isinstance(obj, dict):
        return {k: resolve(v, deployed) for k, v in obj.items()}
    if isinstance(obj, list):
        return [resolve(v, deployed) for v in obj]
    if not isinstance(obj, str) or "${resources." not in obj:
        return obj
    matches = list(REF.finditer(obj))
    if len(matches) == 1 and matches[0].span() == (0, len(obj)):
        return _value(matches[0].group(1), deployed, obj)
    out, pos = [], 0
    for m in matches:
        out.append(obj[pos:m.start()])
        v = _value(m.group(1), deployed, m.group(0))
        out.append(v if isinstance(v, str) else str(v))
        pos = m.end()
    out.append(obj[pos:])
    return "".join(out)


def _value(ref: str, deployed: dict[str, ObjectInfo], text: str) -> Any:
    parts = parse_ref_path(ref)
    if parts[0] != "resources" or len(parts) < 3:
        return text
    info = deployed.get(f"{parts[1]}.{parts[2]}")
    if info is None:
        raise KilnError(f"reference does not exist: {text}")
    return field_value(info, parts[3:])
