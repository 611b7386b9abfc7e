"""The value that flows through the bundle pipeline, and the shape of a step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from kiln.diag import Diagnostic
from kiln.bundle.context import LoadContext
from kiln.bundle.dyn.value import Value


@dataclass(frozen=True)
class Loading:
    root: str  # absolute path of the bundle root directory
    root_file: str  # name of the root config file, relative to root
    config: Value  # the located config tree
    ctx: LoadContext

    def with_config(self, config: Value) -> "Loading":
        return replace(self, config=config)


Step = Callable[[Loading], tuple[Loading, list[Diagnostic]]]
