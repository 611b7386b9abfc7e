"""YAML → located values, with YAML 1.2 core-schema scalars.

libyaml (through PyYAML's C parser) produces the event stream; kiln builds the value tree
from it directly, resolving plain scalars itself so that only ``true``/``false`` are
booleans (``yes``, ``on``, ``y`` stay strings as in YAML 1.2), applying ``<<`` merge keys,
sharing anchored values with their aliases, and giving every value and key its
``file:line:col``. Building from events rather than from PyYAML's node graph halves the
cost of large bundles.
"""

from __future__ import annotations

import math
import re

import yaml
from yaml._yaml import CParser
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from kiln.diag import Diagnostic, Location, Severity
from kiln.bundle.dyn.value import Anchored, Value

_INT10 = re.compile(r"[-+]?[0-9]+\Z")
_INT8 = re.compile(r"0o[0-7]+\Z")
_INT16 = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)\Z")
_NAN = re.compile(r"\.(nan|NaN|NAN)\Z")
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
# Key markers (compared by identity): a merge key, a value to drop after an invalid key,
# and a container that stood in a key position.
_MERGE = "<<merge>>"
_SKIP = "<<skip>>"
_SKIP_NEXT = "<<skip-next>>"


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


def _tagged(tag: str, text: str) -> object:
    """A scalar with an explicit tag (``!!int 3``); unknown tags keep the text."""
    if tag.endswith(":str"):
        return text
    if tag.endswith(":int"):
        return int(text, 0)
    if tag.endswith(":float"):
        return float(text)
    if tag.endswith(":bool"):
        return text in _TRUE
    if tag.endswith(":null"):
        return None
    return text


_new_loc = tuple.__new__  # builds a Location without a Python-level __new__


def _build(text: str, file: str) -> tuple[Value | None, list[Diagnostic]]:
    """Build located values from the event stream.

    The state of the innermost open container lives in local variables (its Python
    object, its Value, whether it is a map, the pending key); enclosing containers wait on
    ``stack``. This loop is the hottest code in kiln's config handling.
    """
    diags: list[Diagnostic] = []
    get_event = CParser(text).get_event
    anchors: dict[str, Value] = {}
    stack: list[tuple] = []  # type: ignore[type-arg]
    cont: dict | list | None = None  # type: ignore[type-arg]
    cval: Value | None = None
    is_map = False
    key: str | None = None
    kloc: Location | None = None
    anchor: str | None = None
    merges: list[Value] | None = None
    root: Value | None = None
    docs = 0
    while True:
        e = get_event()
        if e is None:
            break
        t = type(e)
        if t is ScalarEvent:
            m = e.start_mark
            loc = _new_loc(Location, (file, m.line + 1, m.column + 1))
            raw = e.value
            tag = e.tag
            if is_map and key is None:
                key = raw if (raw != "<<" or tag is not None or not e.implicit[0]) else _MERGE
                kloc = loc
                continue
            if tag is None and e.implicit[0]:
                val = resolve_plain(raw) if raw else None
            elif tag is None or tag == "!":
                val = raw
            else:
                try:
                    val = _tagged(tag, raw)
                except ValueError:
                    diags.append(Diagnostic(Severity.ERROR, f"invalid {tag} value: {raw!r}",
                                            locations=(loc,)))
                    val = raw
            if e.anchor is not None:
                node = anchors[e.anchor] = Anchored(val, loc)
            else:
                node = Value(val, loc)
        elif t is MappingStartEvent or t is SequenceStartEvent:
            m = e.start_mark
            loc = _new_loc(Location, (file, m.line + 1, m.column + 1))
            if is_map and key is None:
                diags.append(Diagnostic(Severity.ERROR, "map keys must be scalars",
                                        locations=(loc,)))
                key = _SKIP_NEXT
            stack.append((cont, cval, is_map, key, kloc, anchor, merges))
            is_map = t is MappingStartEvent
            cont = {} if is_map else []
            anchor = e.anchor
            cval = Value(cont, loc) if anchor is None else Anchored(cont, loc)
            key = kloc = merges = None
            continue
        elif t is MappingEndEvent or t is SequenceEndEvent:
            node = cval  # type: ignore[assignment]
            if merges:
                _apply_merges(cont, merges, diags)  # type: ignore[arg-type]
            if anchor is not None:
                anchors[anchor] = node
            cont, cval, is_map, key, kloc, anchor, merges = stack.pop()
            if key is _SKIP_NEXT:
                key = _SKIP  # the container was a key: drop the value that follows
                continue
        elif t is AliasEvent:
            found = anchors.get(e.anchor)
            if found is None or (is_map and key is None):
                m = e.start_mark
                where = (Location(file, m.line + 1, m.column + 1),)
                if found is None:
                    diags.append(Diagnostic(Severity.ERROR,
                                            f"unknown anchor '{e.anchor}' referenced",
                                            locations=where))
                    found = Value(None, where[0])
                if is_map and key is None:
                    diags.append(Diagnostic(Severity.ERROR, "map keys must be scalars",
                                            locations=where))
                    key = _SKIP
                    continue
            node = found
        elif t is DocumentStartEvent:
            docs += 1
            if docs > 1:
                m = e.start_mark
                diags.append(Diagnostic(Severity.ERROR, "expected a single document in the file",
                                        locations=(Location(file, m.line + 1, m.column + 1),)))
                break
            continue
        else:
            continue

        # attach `node` to the open container
        if cont is None:
            root = node
        elif not is_map:
            cont.append(node)  # type: ignore[union-attr]
        else:
            k = key
            key = None
            if k is _SKIP:
                continue
            if k is _MERGE:
                if merges is None:
                    merges = []
                merges.append(node)
                continue
            # a key written twice: the last one wins, as in the Databricks CLI
            if node.kloc is None:
                node.kloc = kloc
            else:  # an aliased node already placed elsewhere: give this entry its own key
                node = Value(node.v, node.loc, kloc)
            cont[k] = node  # type: ignore[index]
    return root, diags


def _apply_merges(out: dict[str, Value], merges: list[Value], diags: list[Diagnostic]) -> None:
    # Explicit keys win over merged ones; earlier merge sources win over later ones.
    for src in merges:
        for s in (src.v if type(src.v) is list else [src]):
            if type(s.v) is not dict:
                diags.append(Diagnostic(
                    Severity.ERROR, "map merge requires map or sequence of maps as the value",
                    locations=(s.loc,)))
                continue
            for k, v in s.v.items():
                if k not in out:
                    out[k] = v


def load_yaml_text(text: str, file: str) -> tuple[Value | None, list[Diagnostic]]:
    """Parse one YAML document; a syntax error is a diagnostic at its position."""
    try:
        return _build(text, file)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = (Location(file, mark.line + 1, mark.column + 1),) if mark else ()
        problem = e.problem or e.context or "invalid YAML"
        line = f"line {mark.line + 1}: " if mark else ""
        return None, [Diagnostic(Severity.ERROR, f"yaml: {line}{problem}", locations=loc)]
    except yaml.YAMLError as e:  # reader errors: bad bytes, control characters
        return None, [Diagnostic(Severity.ERROR, f"yaml: {_first_line(e)}",
                                 locations=(Location(file, 1, 1),))]


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
