"""Small helpers for steps that edit resources in a located tree."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from kiln.bundle.dyn.value import NIL_LOC, Value, from_plain

Edit = Callable[[str, Value], Value]


def get_str(value: Value | None, *path: str) -> str | None:
    cur = value
    for p in path:
        if cur is None:
            return None
        cur = cur.get(p)
    return cur.v if cur is not None and isinstance(cur.v, str) else None


def resources(config: Value, rtype: str) -> Iterator[tuple[str, Value]]:
    res = config.get("resources")
    group = res.get(rtype) if res is not None else None
    if group is not None and group.is_map:
        for key, r in group.v.items():
            if r.is_map:
                yield key, r


def maps_in(v: Value | None) -> list[Value]:
    """The maps in a sequence (``tasks``, ``permissions``, ...); nothing if it is not one."""
    return [x for x in v.v if x.is_map] if v is not None and v.is_seq else []


def edit_resources(config: Value, rtype: str, fn: Edit) -> Value:
    """A copy of ``config`` with ``fn(key, resource)`` applied to every resource of a type."""
    res = config.get("resources")
    group = res.get(rtype) if res is not None else None
    if res is None or group is None or not group.is_map:
        return config
    new_group = {}
    changed = False
    for key, r in group.v.items():
        nr = fn(key, r) if r.is_map else r
        changed = changed or nr is not r
        new_group[key] = nr
    if not changed:
        return config
    new_res = Value({**res.v, rtype: Value(new_group, group.loc, group.kloc)}, res.loc, res.kloc)
    return Value({**config.v, "resources": new_res}, config.loc, config.kloc)


def with_field(obj: Value, key: str, new: Value | object) -> Value:
    """``obj`` with ``key`` set (a plain value is wrapped, located nowhere)."""
    nv = new if isinstance(new, Value) else from_plain(new, NIL_LOC)
    old = obj.v.get(key)
    if old is not None and nv.kloc is None:
        nv = Value(nv.v, nv.loc, old.kloc)
    return Value({**obj.v, key: nv}, obj.loc, obj.kloc)


def set_default(obj: Value, key: str, default: object) -> Value:
    cur = obj.get(key)
    if cur is not None and not cur.is_nil:
        return obj
    return with_field(obj, key, default)


def edit_field(obj: Value, key: str, fn: Callable[[Value], Value]) -> Value:
    cur = obj.get(key)
    if cur is None or cur.is_nil:
        return obj
    new = fn(cur)
    return obj if new is cur else with_field(obj, key, new)


def edit_in(obj: Value, keys: tuple[str, ...], fn: Callable[[Value], Value]) -> Value:
    """``obj`` with ``fn`` applied to the map at ``keys`` (when there is one there)."""
    if not obj.is_map:
        return obj
    sub = obj.get(keys[0])
    if sub is None or not sub.is_map:
        return obj
    new = fn(sub) if len(keys) == 1 else edit_in(sub, keys[1:], fn)
    return obj if new is sub else with_field(obj, keys[0], new)


def edit_each(obj: Value, key: str, fn: Callable[[Value, int], Value]) -> Value:
    """``obj`` with ``fn(item, position)`` applied to each map in its sequence ``key``."""
    seq = obj.get(key) if obj.is_map else None
    if seq is None or not seq.is_seq:
        return obj
    new = [fn(x, i) if x.is_map else x for i, x in enumerate(seq.v)]
    if all(a is b for a, b in zip(new, seq.v)):
        return obj
    return with_field(obj, key, Value(new, seq.loc, seq.kloc))
