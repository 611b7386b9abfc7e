"""A task's log holds what the task printed and the warnings its author can act on, once.

Libraries repeat themselves: MLflow logs INFO lines about its own bookkeeping and repeats
the same warning for every model it logs or evaluates (resetting Python's warning registry
as it goes, so the usual once-per-location rule does not hold). In a task process:
- MLflow logs from WARNING up (``MLFLOW_LOGGING_LEVEL``, which the task's environment
  may set otherwise; see ``kiln.jobs.runner``);
- each distinct warning (category and text) and each distinct MLflow log line is shown
  once.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any


def show_each_warning_once() -> None:
    seen: set[tuple[type, str]] = set()
    show = warnings.showwarning

    def showwarning(message: Any, category: type, filename: str, lineno: int,
                    file: Any = None, line: str | None = None) -> None:
        key = (category, str(message))
        if key not in seen:
            seen.add(key)
            show(message, category, filename, lineno, file, line)

    warnings.showwarning = showwarning


class _Once(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, int, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, record.getMessage())
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def log_each_line_once(logger_name: str) -> None:
    """Called once the library has set up its logger (after its import)."""
    for handler in logging.getLogger(logger_name).handlers:
        handler.addFilter(_Once())
