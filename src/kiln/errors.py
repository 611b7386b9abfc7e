"""The one exception tree of kiln.

    KilnError                 a user-facing failure: message, optional path and location
    ├── ConfigError           the bundle configuration is invalid (carries diagnostics)
    └── UsageError            a command was called wrongly (bad flag value, missing arg)

Every error a user can cause is a ``KilnError``. The CLI prints it as
``Error: <summary>`` / ``  at <path>`` / ``  in <file>:<line>:<col>`` and exits 1; anything
else escaping a command is a bug and shows a traceback only under ``--debug``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # kiln.diag loads dataclasses; task processes import this module light
    from kiln.diag import Diagnostic, Location, Path


class KilnError(Exception):
    def __init__(self, summary: str, *, path: Path | None = None,
                 location: Location | None = None, detail: str = "") -> None:
        super().__init__(summary)
        self.summary = summary
        self.path = path
        self.location = location
        self.detail = detail

    def diagnostics(self) -> list[Diagnostic]:
        from kiln.diag import Diagnostic, Severity

        return [Diagnostic(Severity.ERROR, self.summary, self.detail,
                           (self.location,) if self.location else (),
                           (self.path,) if self.path is not None else ())]


class ConfigError(KilnError):
    """Raised with the full list of diagnostics when a bundle cannot be used."""

    def __init__(self, diags: list[Diagnostic]) -> None:
        from kiln.diag import Severity

        first = next((d for d in diags if d.severity is Severity.ERROR), None)
        super().__init__(first.summary if first else "invalid configuration")
        self._diags = list(diags)

    def diagnostics(self) -> list[Diagnostic]:
        return list(self._diags)


class UsageError(KilnError):
    pass
