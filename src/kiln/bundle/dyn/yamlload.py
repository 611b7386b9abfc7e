"""YAML → located values, with YAML 1.2 core-schema scalars.

libyaml (through PyYAML's C parser) builds the node graph; kiln resolves plain scalars
itself so that only ``true``/``false`` are booleans (``yes``, ``on``, ``y`` stay strings as
in YAML 1.2), handles ``<<`` merge keys, and gives every value and key its
``file:line:col``. Anchors and aliases come from the parser: an alias is the anchored node.
"""

from __future__ import annotations

import math
import re

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from kiln.diag import Diagnostic, Location, Severity
from kiln.bundle.dyn.value import Value

_PLAIN = "kiln:plain"
_STR = "tag:yaml.org,2002:str"
_MERGE_TAGS = {"tag:yaml.org,2002:merge"}

_INT10 = re.compile(r"[-+]?[0-9]+\Z")
_INT8 = re.compile(r"0o[0-7]+\Z")
_INT16 = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)\Z")
_NAN = re.compile(r"\.(nan|NaN|NAN)\Z")
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Composer(_Loader):  # type: ignore[misc, valid-type]
    """Keeps the parser's node graph but leaves plain-scalar typing to kiln."""

    def resolve(self, kind, value, implicit):  # type: ignore[no-untyped-def]
        if kind is ScalarNode:
            if implicit[0]:
                return _PLAIN
            return _STR
        return super().resolve(kind, value, implicit)


def resolve_plain(text: str) -> object:
    """The YAML 1.2 core schema for a plain (unquoted) scalar."""
    if text in _NULLS:
        return None
    c = text[0]
    if c in "tTfF":
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        return text
    if c.isdigit() or c in "+-.":
        if _INT10.match(text):
            return int(text)
        if _FLOAT.match(text):
            return float(text)
        if _INF.match(text):
            return -math.inf if c == "-" else math.inf
        if _NAN.match(text):
            return math.nan
        if _INT8.match(text):
            return int(text[2:], 8)
        if _INT16.match(text):
            return int(text[2:], 16)
    return text


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.diags: list[Diagnostic] = []
        self.done: dict[int, Value] = {}

    def loc(self, node: yaml.Node) -> Location:
        m = node.start_mark
        return Location(self.file, m.line + 1, m.column + 1)

    def build(self, node: yaml.Node) -> Value:
        # Aliases are the same node object: build once, share the value.
        key = id(node)
        hit = self.done.get(key)
        if hit is not None:
            return hit
        if isinstance(node, ScalarNode):
            out = Value(self.scalar(node), self.loc(node))
        elif isinstance(node, SequenceNode):
            self.done[key] = out = Value([], self.loc(node))
            out.v.extend(self.build(n) for n in node.value)
        elif isinstance(node, MappingNode):
            self.done[key] = out = Value({}, self.loc(node))
            self.mapping(node, out.v)
        else:  # pragma: no cover - libyaml knows only these three
            out = Value(None, self.loc(node))
        self.done[key] = out
        return out

    def scalar(self, node: ScalarNode) -> object:
        tag = node.tag
        text = node.value
        if tag == _PLAIN:
            return resolve_plain(text)
        if tag == _STR:
            return text
        if tag.endswith(":int"):
            try:
                return int(text, 0)
            except ValueError:
                self.diags.append(Diagnostic(Severity.ERROR, f"invalid int value: {text!r}",
                                             locations=(self.loc(node),)))
                return text
        if tag.endswith(":float"):
            try:
                return float(text)
            except ValueError:
                return text
        if tag.endswith(":bool"):
            return text in _TRUE
        if tag.endswith(":null"):
            return None
        return text

    def mapping(self, node: MappingNode, out: dict[str, Value]) -> None:
        merges: list[yaml.Node] = []
        for knode, vnode in node.value:
            if isinstance(knode, ScalarNode) and (
                (knode.tag == _PLAIN and knode.value == "<<") or knode.tag in _MERGE_TAGS
            ):
                merges.append(vnode)
                continue
            if not isinstance(knode, ScalarNode):
                self.diags.append(Diagnostic(Severity.ERROR, "map keys must be scalars",
                                             locations=(self.loc(knode),)))
                continue
            key = knode.value
            kloc = self.loc(knode)
            if key in out:
                first = out[key].kloc
                where = f" at line {first.line}" if first else ""
                self.diags.append(Diagnostic(
                    Severity.ERROR, f'mapping key "{key}" already defined{where}',
                    locations=(kloc,)))
                continue
            val = self.build(vnode)
            if val.kloc != kloc:
                val = Value(val.v, val.loc, kloc)
            out[key] = val
        # Explicit keys win over merged ones; earlier merge sources win over later ones.
        for src in merges:
            sources = src.value if isinstance(src, SequenceNode) else [src]
            for s in sources:
                built = self.build(s)
                if type(built.v) is not dict:
                    self.diags.append(Diagnostic(
                        Severity.ERROR, "map merge requires map or sequence of maps as the value",
                        locations=(self.loc(s),)))
                    continue
                for k, v in built.v.items():
                    if k not in out:
                        out[k] = v


def load_yaml_text(text: str, file: str) -> tuple[Value | None, list[Diagnostic]]:
    """Parse one YAML document; a syntax error is a diagnostic at its position."""
    try:
        node = yaml.compose(text, Loader=_Composer)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = (Location(file, mark.line + 1, mark.column + 1),) if mark else ()
        problem = e.problem or e.context or "invalid YAML"
        line = f"line {mark.line + 1}: " if mark else ""
        return None, [Diagnostic(Severity.ERROR, f"yaml: {line}{problem}", locations=loc)]
    except yaml.YAMLError as e:  # reader errors: bad bytes, control characters
        return None, [Diagnostic(Severity.ERROR, f"yaml: {_first_line(e)}",
                                 locations=(Location(file, 1, 1),))]
    if node is None:
        return None, []
    b = _Builder(file)
    return b.build(node), b.diags


def load_yaml_file(path: str, display_name: str | None = None
                   ) -> tuple[Value | None, list[Diagnostic]]:
    name = display_name or path
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        return None, [Diagnostic(Severity.ERROR, f"failed to read {name}: {e.strerror}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, [Diagnostic(Severity.ERROR, f"{name} is not valid UTF-8 (byte {e.start})",
                                 locations=(Location(name, 1, 1),))]
    return load_yaml_text(text, name)


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
