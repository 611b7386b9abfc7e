"""The schema as a small type tree, compiled once from the pydantic models.

Normalization walks config values against this tree; it is cheaper to consult than
pydantic's own machinery and says exactly what the CLI's normalizer needs: struct fields
(with their YAML names), map and sequence element types, and scalar kinds.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import os
import pickle
import types
import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union

if TYPE_CHECKING:
    from pydantic import BaseModel


@dataclass(eq=False)
class TStruct:
    name: str
    fields: dict[str, "TNode"] = field(default_factory=dict)
    required: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TMap:
    item: "TNode"


@dataclass(frozen=True)
class TSeq:
    item: "TNode"


@dataclass(frozen=True)
class TScalar:
    kind: str  # "string" | "int" | "float" | "bool" | "int_or_string"
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class TAny:
    pass


TNode = TStruct | TMap | TSeq | TScalar | TAny

ANY = TAny()


def compile_model(model: type["BaseModel"]) -> TStruct:
    return _compile_model(model, {})


def _compile_model(model: type["BaseModel"], seen: dict[type, TStruct]) -> TStruct:
    hit = seen.get(model)
    if hit is not None:
        return hit
    node = TStruct(model.__name__)
    seen[model] = node  # recursive models (Task → ForEachTask → Task) share the node
    required = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        node.fields[key] = _compile_type(info.annotation, seen)
        extra = info.json_schema_extra
        if info.is_required() and not (isinstance(extra, dict) and extra.get("deploy_only")):
            required.append(key)
    node.required = frozenset(required)
    return node


def _compile_type(tp: Any, seen: dict[type, TStruct]) -> TNode:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _compile_type(rest[0], seen)
        kinds = {_compile_type(a, seen) for a in rest if a in (int, str)}
        if kinds == {TScalar("int"), TScalar("string")}:
            return TScalar("int_or_string")
        return ANY
    if origin is Literal:
        return TScalar("string", tuple(str(a) for a in args))
    if origin in (list, tuple, typing.Sequence):
        return TSeq(_compile_type(args[0], seen) if args else ANY)
    if origin is dict:
        return TMap(_compile_type(args[1], seen) if args else ANY)
    if isinstance(tp, type):
        from pydantic import BaseModel

        if issubclass(tp, BaseModel):
            return _compile_model(tp, seen)
        if issubclass(tp, bool):
            return TScalar("bool")
        if issubclass(tp, int):
            return TScalar("int")
        if issubclass(tp, float):
            return TScalar("float")
        if issubclass(tp, enum.Enum):
            return TScalar("string", tuple(str(m.value) for m in tp))
        if issubclass(tp, str):
            return TScalar("string")
    return ANY


_SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema")


@functools.cache
def bundle_type() -> TStruct:
    """The type tree of ``databricks.yml``.

    Compiling it means importing pydantic and building every schema model, which costs
    more than validating a small bundle. Like Python's own bytecode cache, the compiled
    tree is kept in ``schema/__pycache__``, keyed by a hash of the schema sources (so it
    is never stale); where that directory is not writable it is simply rebuilt.
    """
    cache = _cache_file()
    if cache is not None:
        try:
            with open(cache, "rb") as f:
                tree = pickle.load(f)
            if isinstance(tree, TStruct):
                return tree
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            pass
    from kiln.bundle.schema import BundleConfig

    tree = compile_model(BundleConfig)
    if cache is not None:
        _write_atomically(cache, pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL))
    return tree


def _cache_file() -> str | None:
    h = hashlib.sha256()
    try:
        sources = sorted(n for n in os.listdir(_SCHEMA_DIR) if n.endswith(".py"))
        for name in sources + [os.path.abspath(__file__)]:
            with open(os.path.join(_SCHEMA_DIR, name), "rb") as f:
                h.update(name.encode() + b"\0" + f.read())
    except OSError:
        return None
    return os.path.join(_SCHEMA_DIR, "__pycache__", f"typetree-{h.hexdigest()[:20]}.pickle")


def _write_atomically(path: str, data: bytes) -> None:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        pass


def node_at(root: TNode, path: tuple[str | int, ...]) -> TNode:
    """The schema node for a config path (``ANY`` once the schema stops knowing)."""
    node: TNode = root
    for part in path:
        if isinstance(node, TStruct) and isinstance(part, str):
            nxt = node.fields.get(part)
            if nxt is None:
                return ANY
            node = nxt
        elif isinstance(node, TMap) and isinstance(part, str):
            node = node.item
        elif isinstance(node, TSeq) and isinstance(part, int):
            node = node.item
        else:
            return ANY
    return node
