"""The located value tree.

A ``Value`` wraps a plain Python value: ``None``, ``bool``, ``int``, ``float``, ``str``, a
``dict[str, Value]`` or a ``list[Value]``. ``loc`` is where the value was written and
``kloc`` where its key was written (for map entries), so a diagnostic can point at either.

Values are treated as immutable: transformations build new nodes along the changed path and
share the rest (``set_path``), which keeps every pipeline step a pure function.
"""

from __future__ import annotations

from typing import Any

from kiln.diag import Location, Path

NIL_LOC = Location("", 0, 0)


class Value:
    __slots__ = ("v", "loc", "kloc")

    def __init__(self, v: Any, loc: Location = NIL_LOC, kloc: Location | None = None) -> None:
        self.v = v
        self.loc = loc
        self.kloc = kloc

    def __repr__(self) -> str:
        return f"Value({self.v!r} @ {self.loc})"

    # kinds -------------------------------------------------------------------------
    @property
    def is_map(self) -> bool:
        return type(self.v) is dict

    @property
    def is_seq(self) -> bool:
        return type(self.v) is list

    @property
    def is_nil(self) -> bool:
        return self.v is None

    def with_v(self, v: Any) -> "Value":
        return Value(v, self.loc, self.kloc)

    def get(self, key: str) -> "Value | None":
        if type(self.v) is dict:
            return self.v.get(key)
        return None

    def key_loc(self) -> Location:
        """Where the key of this map entry was written, else where the value was."""
        return self.kloc or self.loc


class Anchored(Value):
    """A value the YAML file gave an anchor (``&name``): written to be reused by aliases.
    An unknown field holding only anchored values is a block of reusable definitions,
    not a misplaced setting (``kiln.bundle.normalize``)."""

    __slots__ = ()


def anchors_only(value: Value) -> bool:
    """``value`` is anchored, or a non-empty container of such values (recursively)."""
    if type(value) is Anchored:
        return True
    items = value.v.values() if type(value.v) is dict else value.v if type(value.v) is list else ()
    return bool(items) and all(anchors_only(x) for x in items)


def kind_name(v: Any) -> str:
    """The Databricks CLI's kind names, as used in ``expected map, found string``."""
    t = type(v.v if isinstance(v, Value) else v)
    if t is dict:
        return "map"
    if t is list:
        return "sequence"
    if t is str:
        return "string"
    if t is bool:
        return "bool"
    if t is int:
        return "int"
    if t is float:
        return "float"
    return "nil"


def to_plain(value: Value | None) -> Any:
    """Strip locations: the plain JSON-like tree."""
    if value is None:
        return None
    return _plain(value.v)


def _plain(v: Any) -> Any:
    # Leaves are inlined (no call per scalar): most nodes of a config are leaves.
    t = type(v)
    if t is dict:
        out = {}
        for k, x in v.items():
            xv = x.v
            tx = type(xv)
            out[k] = _plain(xv) if tx is dict or tx is list else xv
        return out
    if t is list:
        return [_plain(x.v) if type(x.v) is dict or type(x.v) is list else x.v for x in v]
    return v


def from_plain(obj: Any, loc: Location = NIL_LOC) -> Value:
    """Wrap a plain tree, every node at ``loc`` (for values kiln synthesizes)."""
    if isinstance(obj, Value):
        return obj
    if isinstance(obj, dict):
        return Value({str(k): from_plain(x, loc) for k, x in obj.items()}, loc)
    if isinstance(obj, (list, tuple)):
        return Value([from_plain(x, loc) for x in obj], loc)
    return Value(obj, loc)


def get_path(root: Value | None, path: Path) -> Value | None:
    cur = root
    for part in path:
        if cur is None:
            return None
        v = cur.v
        if isinstance(part, int):
            if type(v) is not list or part >= len(v) or part < 0:
                return None
            cur = v[part]
        else:
            if type(v) is not dict:
                return None
            cur = v.get(part)
    return cur


def set_path(root: Value, path: Path, new: Value | None) -> Value:
    """A copy of ``root`` with the value at ``path`` replaced (``None`` removes a key).

    Missing maps along the path are created; only the nodes on the path are copied.
    """
    if not path:
        return new if new is not None else Value(None, root.loc)
    head, rest = path[0], path[1:]
    v = root.v
    if isinstance(head, int):
        items = list(v) if type(v) is list else []
        child = items[head] if head < len(items) else Value(None)
        items[head] = set_path(child, rest, new) if rest else (new or Value(None))
        return Value(items, root.loc, root.kloc)
    m = dict(v) if type(v) is dict else {}
    if not rest:
        if new is None:
            m.pop(head, None)
        else:
            old = m.get(head)
            if new.kloc is None and old is not None:
                new = Value(new.v, new.loc, old.kloc)
            m[head] = new
    else:
        child = m.get(head) or Value({}, root.loc)
        m[head] = set_path(child, rest, new)
    return Value(m, root.loc, root.kloc)
