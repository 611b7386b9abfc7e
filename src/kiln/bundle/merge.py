"""Merging two config trees, with the Databricks CLI's rules.

Maps merge key by key (the right side wins), sequences concatenate, a nil side yields the
other side, scalars are replaced, and a map or sequence meeting anything else is the error
``cannot merge map with string``.
"""

from __future__ import annotations

from kiln.diag import Path
from kiln.bundle.dyn.value import Value, kind_name
from kiln.errors import KilnError


class MergeError(KilnError):
    pass


def merge(a: Value, b: Value, path: Path = ()) -> Value:
    av, bv = a.v, b.v
    if av is None:
        return b if b.kloc is not None or a.kloc is None else Value(bv, b.loc, a.kloc)
    if bv is None:
        return a
    ta = type(av)
    if ta is dict:
        if type(bv) is not dict:
            raise MergeError(f"cannot merge map with {kind_name(b)}", path=path, location=b.loc)
        out = dict(av)
        for k, child in bv.items():
            cur = out.get(k)
            out[k] = child if cur is None else merge(cur, child, path + (k,))
        return Value(out, b.loc, a.kloc)
    if ta is list:
        if type(bv) is not list:
            raise MergeError(f"cannot merge sequence with {kind_name(b)}", path=path,
                             location=b.loc)
        return Value(av + bv, b.loc, a.kloc)
    return Value(bv, b.loc, a.kloc)
