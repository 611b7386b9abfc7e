"""The entry point of the bundle engine: files in, a resolved and typed bundle out."""

from __future__ import annotations

import functools
import gc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kiln.diag import Diagnostic, has_errors
from kiln.bundle.context import LoadContext
from kiln.bundle.dyn.value import Value, to_plain
from kiln.bundle.phases import INITIALIZE, LOAD, run_steps
from kiln.bundle.root import find_root
from kiln.bundle.state import Loading
from kiln.bundle.steps.load import load_config_file
from kiln.bundle.steps.typed import build_typed
from kiln.errors import ConfigError

if TYPE_CHECKING:
    from kiln.bundle.schema import BundleConfig


@dataclass(frozen=True)
class Bundle:
    """A resolved bundle for one target.

    ``tree`` is the located configuration; ``config`` its typed form, built on first use
    (validation alone never needs it, and building it costs as much as a pipeline step).
    """

    root: str
    target: str
    tree: Value = field(repr=False)

    @property
    def name(self) -> str:
        return str(self.tree.v["bundle"].v["name"].v)

    @functools.cached_property
    def config(self) -> BundleConfig:
        typed, diags = build_typed(self.tree)
        if typed is None:
            raise ConfigError(diags)
        return typed


@dataclass(frozen=True)
class LoadResult:
    root: str
    tree: Value  # as far as processing got
    diagnostics: list[Diagnostic]
    bundle: Bundle | None = None  # set when there was no error

    @property
    def ok(self) -> bool:
        return self.bundle is not None

    def plain(self) -> Any:
        return to_plain(self.tree)


def load_bundle(start: str, ctx: LoadContext) -> LoadResult:
    """Find the bundle root from ``start`` and run the pipeline for ``ctx.target``.

    Raises ``KilnError`` only when no bundle root can be found; every problem in the
    bundle itself comes back as diagnostics.
    """
    root, root_file = find_root(start, ctx.env)
    return load_bundle_at(root, root_file, ctx)


def load_bundle_at(root: str, root_file: str, ctx: LoadContext) -> LoadResult:
    # The pipeline allocates hundreds of thousands of small, acyclic objects; the cyclic
    # collector would rescan them over and over (half the time on large bundles).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _load(root, root_file, ctx)
    finally:
        if was_enabled:
            gc.enable()


def _load(root: str, root_file: str, ctx: LoadContext) -> LoadResult:
    config, diags = load_config_file(root, root_file)
    state = Loading(root=root, root_file=root_file, config=config, ctx=ctx)
    if has_errors(diags):
        return LoadResult(root, state.config, diags)
    for phase in (LOAD, INITIALIZE):
        state, more, ok = run_steps(state, phase)
        diags.extend(more)
        if not ok:
            return LoadResult(root, state.config, diags)
    bundle_v = state.config.v["bundle"]
    target = str(bundle_v.v["target"].v)
    return LoadResult(root, state.config, diags, Bundle(root, target, state.config))
