"""Resolve ``${...}`` references to ``bundle``, ``workspace`` and variables.

``${var.x}`` is short for ``${variables.x.value}``; complex values index with
``${var.x.a[0].b}``. A reference that is the whole string keeps the referenced value's
type; an embedded one is interpolated as text. ``${resources.<type>.<key>...}`` is left as
written for deploy to resolve, but must name a resource that exists; other prefixes are
left alone. Each resolved path is memoized; following a path that is already being
resolved is a cycle.
"""

from __future__ import annotations

from kiln.diag import Diagnostic, Location, Path, Severity, format_path
from kiln.bundle.dyn.value import Value, kind_name
from kiln.bundle.normalize import normalize
from kiln.bundle.refs import REF, is_pure_ref, parse_ref_path
from kiln.bundle.state import Loading
from kiln.bundle.typetree import ANY, TMap, TNode, TScalar, TSeq, TStruct, bundle_type, node_at
from kiln.errors import KilnError

RESOLVED_PREFIXES = frozenset({"bundle", "workspace", "variables"})
MAX_ROUNDS = 10  # the CLI stops after 11 rounds of resolution
_MISSING = object()


class _RefError(KilnError):
    pass


class _SelfReference(_RefError):
    """Following a reference leads into the value that holds it."""


def resolve_references(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    """As the CLI, the first reference that cannot be resolved is the error."""
    r = _Resolver(b.config)
    config = r.resolve_root()
    first = next((d for d in r.diags if d.severity is Severity.ERROR), None)
    if first is not None:  # the tree stays as it was, as the CLI leaves it
        return b, [d for d in r.diags if d.severity is not Severity.ERROR or d is first]
    if r.too_deep:
        r.diags.append(Diagnostic(Severity.WARNING, "Variables references are too deep, "
                                  f"stopping resolution after {MAX_ROUNDS + 1} rounds. "
                                  "Unresolved variables may remain."))
    return b.with_config(config), r.diags


class _Resolver:
    def __init__(self, root: Value) -> None:
        self.root = root
        self.memo: dict[Path, Value] = {}
        self.stack: list[Path] = []
        self.diags: list[Diagnostic] = []
        self.schema = bundle_type()
        self.ref_cache: dict[str, Value | None | _RefError] = {}
        self._reported: set[tuple[str, object]] = set()
        self.depth = 0  # nesting of string resolutions (a reference to a reference ...)
        self.rounds = 0  # re-resolutions of references that interpolation produced
        self.refs: list[str] = []  # the references being followed, outermost first
        self.origin: Path = ()  # the field where the chain of references started
        self.too_deep = False  # a value that contains a reference to itself
        res = root.get("resources")
        self.resources: dict[str, set[str]] = {
            rtype: set(group.v) if group.is_map else set()
            for rtype, group in (res.v.items() if res is not None and res.is_map else ())
        }

    def resolve_root(self) -> Value:
        out = {}
        for key, child in self.root.v.items():
            if key in RESOLVED_PREFIXES:
                # small sections that references point into: memoized, cycle-checked
                out[key] = self.full(child, (key,))
            else:
                out[key] = self.walk(child, [key], node_at(self.schema, (key,)))
        return Value(out, self.root.loc, self.root.kloc)

    # walking ---------------------------------------------------------------------
    def walk(self, value: Value, keys: list[str | int], tnode: TNode) -> Value:
        """Resolve every string under ``value``.

        ``keys`` is the path, kept as a stack; ``tnode`` the schema node of ``value``, so
        that a whole-string reference that brings a number, a bool or a map is normalized
        against its field's type right where it lands.
        """
        v = value.v
        t = type(v)
        if t is str:
            if "${" not in v:
                return value
            out_v = self.string(value, tuple(keys))
            if out_v is not value and (type(out_v.v) is not str or _wants_conversion(tnode)):
                fixed, more = normalize(out_v, tnode, tuple(keys))
                self.diags.extend(more)
                return fixed if fixed is not None else value
            return out_v
        if t is dict or t is list:
            tt = type(tnode)
            changed: dict[str | int, Value] = {}
            for k, child in (v.items() if t is dict else enumerate(v)):
                cv = child.v
                if type(cv) is str and "${" not in cv:
                    continue
                if tt is TStruct:
                    sub = tnode.fields.get(k, ANY)  # type: ignore[union-attr, arg-type]
                elif tt is TMap or tt is TSeq:
                    sub = tnode.item  # type: ignore[union-attr]
                else:
                    sub = ANY
                keys.append(k)
                nc = self.walk(child, keys, sub)
                keys.pop()
                if nc is not child:
                    changed[k] = nc
            if not changed:
                return value
            if t is dict:
                # a resource's string field that a reference left empty is not sent (the
                # API would refuse ""), as the CLI drops it
                dropped = {k for k, nc in changed.items() if nc.v == "" and keys[:1] == ["resources"]
                           and is_pure_ref(v[k].v)  # type: ignore[index]
                           and type(tnode) is TStruct}
                return Value({k: changed.get(k, c) for k, c in v.items() if k not in dropped},  # type: ignore[union-attr]
                             value.loc, value.kloc)
            return Value([changed.get(i, c) for i, c in enumerate(v)], value.loc, value.kloc)
        return value

    def full(self, value: Value, path: Path) -> Value:
        """The fully resolved value at ``path`` (memoized, cycle-checked)."""
        hit = self.memo.get(path)
        if hit is not None:
            return hit
        if path in self.stack:
            loop = self.stack[self.stack.index(path):]
            if any(p[:len(q)] == q for i, p in enumerate(loop) for q in loop[:i]):
                # a value that holds a reference to itself grows in every round: the CLI
                # stops after its last round with a warning and leaves the reference
                raise _SelfReference("too deep")
            origin = self.origin
            if origin[:1] == ("variables",) and origin[-1:] == ("value",) and \
                    self._is_default(origin):
                origin = origin[:-1] + ("default",)
            raise _RefError("cycle detected in field resolution: "
                            + " -> ".join([format_path(origin), *self.refs]))
        self.stack.append(path)
        try:
            v = value.v
            if type(v) is dict:
                out = {k: self.full(c, path + (k,)) for k, c in v.items()}
                result = Value(out, value.loc, value.kloc)
            elif type(v) is list:
                result = Value([self.full(c, path + (i,)) for i, c in enumerate(v)],
                               value.loc, value.kloc)
            elif type(v) is str and "${" in v:
                result = self.string(value, path)
            else:
                result = value
        finally:
            self.stack.pop()
        self.memo[path] = result
        return result

    # strings ---------------------------------------------------------------------
    def string(self, value: Value, path: Path) -> Value:
        s: str = value.v
        matches = list(REF.finditer(s))
        if not matches:
            return value
        if self.depth == 0:
            self.origin = path
        self.depth += 1
        try:
            if len(matches) == 1 and matches[0].span() == (0, len(s)):
                target = self.cached_lookup(matches[0].group(1))
                if target is None:
                    return value
                return Value(target.v, value.loc, value.kloc)
            out: list[str] = []
            pos = 0
            settled = True  # every reference became text without references of its own
            for m in matches:
                out.append(s[pos:m.start()])
                target = self.cached_lookup(m.group(1))
                piece = m.group(0) if target is None else self.text(target, m.group(0))
                settled = settled and target is not None and "${" not in piece
                out.append(piece)
                pos = m.end()
            out.append(s[pos:])
            text = "".join(out)
            if settled and self.rounds < MAX_ROUNDS and REF.search(text):
                # interpolation wrote a new reference (``${var.foo_${bundle.target}}``):
                # resolve it too, as the CLI's next round would
                self.rounds += 1
                try:
                    return self.string(Value(text, value.loc, value.kloc), path)
                finally:
                    self.rounds -= 1
            return Value(text, value.loc, value.kloc)
        except _SelfReference:
            if self.depth > 1:
                raise
            self.too_deep = True
            return value
        except _RefError as e:
            if self.depth > 1:
                raise  # reported once, where the chain of references started
            key = (e.summary, value.loc)
            if key not in self._reported:
                self._reported.add(key)
                self.diags.append(Diagnostic(Severity.ERROR, e.summary, e.detail,
                                             locations=(value.loc,), paths=(path,)))
            return value
        finally:
            self.depth -= 1

    @staticmethod
    def text(target: Value, ref: str) -> str:
        v = target.v
        t = type(v)
        if t is str:
            return v
        if t is bool:
            return "true" if v else "false"
        if t is int:
            return str(v)
        if t is float:
            return str(int(v)) if v.is_integer() else str(v)
        if v is None:
            return ""
        raise _RefError(f"cannot interpolate non-string value: {ref}",
                        detail="Only strings, numbers and booleans can be embedded in a "
                               "string; use the reference as the whole value instead.")

    def cached_lookup(self, ref: str) -> Value | None:
        """``lookup`` once per distinct reference text (large bundles repeat a few)."""
        hit = self.ref_cache.get(ref, _MISSING)
        if hit is _MISSING:
            self.refs.append(ref)
            try:
                hit = self.lookup(ref)
            except _SelfReference:
                raise
            except _RefError as e:
                if self.stack:  # mid-chain: the outcome depends on where we came from
                    raise
                hit = e
            finally:
                self.refs.pop()
            if not self.stack:
                self.ref_cache[ref] = hit
        if isinstance(hit, _RefError):
            raise hit
        return hit  # type: ignore[return-value]

    def lookup(self, ref: str) -> Value | None:
        parts = parse_ref_path(ref)
        shown = "${" + ref + "}"
        if parts[0] == "var":
            if len(parts) < 2 or not isinstance(parts[1], str):
                raise _RefError(f"reference does not exist: {shown}")
            parts = ("variables", parts[1], "value") + parts[2:]
        if parts[0] == "resources":
            self.check_resource(parts, shown)
            return None
        if parts[0] not in RESOLVED_PREFIXES:
            return None
        node = self.root
        path: Path = ()
        for part in parts:
            if type(node.v) is str and node.v.startswith("${"):
                node = self.full(node, path)
            child = _index(node, part)
            if child is None and type(node.v) is dict:
                parent = node_at(self.schema, path)
                if type(parent) is TStruct and part in parent.fields:  # type: ignore[union-attr]
                    child = _zero(parent.fields[part], node.loc)  # type: ignore[union-attr, index]
            if child is None and isinstance(part, str) and type(node.v) is not dict \
                    and node.v is not None and type(node.v) is not list:
                raise _RefError(f'expected a map to index "{format_path(path + (part,))}", '
                                f"found {kind_name(node)}")
            if child is None:
                raise _RefError(f"reference does not exist: {shown}",
                                detail=_suggest(node, part, ref))
            path = path + (part,)
            node = child
        return self.full(node, path)

    def _is_default(self, path: Path) -> bool:
        """Whether a variable's value is its ``default`` (so the CLI names that field)."""
        decl = self.root.get(str(path[0]))
        decl = decl.get(str(path[1])) if decl is not None else None
        if decl is None or not decl.is_map:
            return False
        value, default = decl.get("value"), decl.get("default")
        return value is not None and default is not None and value.loc == default.loc

    def check_resource(self, parts: tuple[str | int, ...], shown: str) -> None:
        if len(parts) >= 3 and isinstance(parts[1], str) and parts[2] in self.resources.get(
                parts[1], ()):
            return
        detail = ""
        if len(parts) >= 3 and isinstance(parts[1], str) and isinstance(parts[2], str):
            ref = shown[2:-1]
            detail = _did_you_mean(ref, parts[2], sorted(self.resources.get(parts[1], ())))
        raise _RefError(f"reference does not exist: {shown}", detail=detail)


_ZERO = {"string": "", "int": 0, "float": 0.0, "bool": False, "int_or_string": 0}


def _zero(tnode: TNode, loc: Location) -> Value | None:
    """A field the schema knows but the configuration leaves unset reads as its zero
    value, as the CLI's lookups see it (``${bundle.git.branch}`` outside a repository
    is "")."""
    if type(tnode) is TScalar:
        return Value(_ZERO.get(tnode.kind, ""), loc)  # type: ignore[union-attr]
    if type(tnode) is TStruct:
        return Value({}, loc)
    return None


def _wants_conversion(tnode: TNode) -> bool:
    """Whether a string landing here must be converted (an int, bool or float field)."""
    return type(tnode) is TScalar and tnode.kind != "string"


def _index(node: Value, part: str | int) -> Value | None:
    v = node.v
    if isinstance(part, int):
        return v[part] if type(v) is list and 0 <= part < len(v) else None
    return v.get(part) if type(v) is dict else None


def _suggest(node: Value, part: str | int, ref: str) -> str:
    if not isinstance(part, str) or type(node.v) is not dict:
        return ""
    return _did_you_mean(ref, part, list(node.v))


def _did_you_mean(ref: str, part: str, keys: list[str]) -> str:
    """The CLI's suggestions: keys within edit distance 2 of the missing one, nearest
    first, each written as the whole reference."""
    close = sorted(((_distance(part, k), i, k) for i, k in enumerate(keys)
                    if isinstance(k, str) and _distance(part, k) <= 2))
    if not close:
        return ""
    at = ref.rfind(part)
    refs = ["${" + ref[:at] + k + ref[at + len(part):] + "}" for _, _, k in close]
    header = "did you mean:" if len(refs) == 1 else "did you mean one of:"
    return header + "".join("\n  " + r for r in refs)


def _distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a):
        cur = [i + 1]
        for j, cb in enumerate(b):
            cur.append(min(cur[j] + 1, prev[j + 1] + 1, prev[j] + (ca != cb)))
        prev = cur
    return prev[-1]