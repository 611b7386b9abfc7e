"""Run a function right after a module is first imported, without importing it before.

Task processes use this to adapt libraries that user code may or may not import
(PySpark's session builder, MLflow's URI setters): a task that never imports them pays
nothing. Stdlib only.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any, Callable


class _AfterImport:
    def __init__(self, name: str, fn: Callable[[Any], None]) -> None:
        self.name = name
        self.fn = fn

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != self.name:
            return None
        sys.meta_path.remove(self)  # find the real spec without finding ourselves
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module
        fn = self.fn

        def exec_module(module: Any) -> None:
            run(module)
            fn(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def after_import(name: str, fn: Callable[[Any], None]) -> None:
    """Call ``fn(module)`` once module ``name`` is imported (now, if it already is)."""
    if name in sys.modules:
        fn(sys.modules[name])
        return
    sys.meta_path.insert(0, _AfterImport(name, fn))
