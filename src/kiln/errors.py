"""The one exception tree of kiln, and the one table of error codes.

    KilnError                 a user-facing failure: message, optional path and location
    ├── ConfigError           the bundle configuration is invalid (carries diagnostics)
    ├── UsageError            a command was called wrongly (bad flag value, missing arg)
    ├── NotFound              RESOURCE_DOES_NOT_EXIST
    ├── AlreadyExists         RESOURCE_ALREADY_EXISTS
    ├── Conflict              RESOURCE_CONFLICT (a lock held, a concurrent write)
    ├── PermissionDenied      PERMISSION_DENIED
    └── Unauthenticated       UNAUTHENTICATED

Each error carries a code (Databricks' error codes); ``HTTP_STATUS`` maps each code to
the status the REST API answers with. A bare ``KilnError`` is INVALID_PARAMETER_VALUE: the
request (a command, a bundle, an API call) asked for something that cannot be done.

Every error a user can cause is a ``KilnError``. The CLI prints it as
``Error: <summary>`` / ``  at <path>`` / ``  in <file>:<line>:<col>`` and exits 1; anything
else escaping a command is a bug and shows a traceback only under ``--debug``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # kiln.diag loads dataclasses; task processes import this module light
    from kiln.diag import Diagnostic, Location, Path


class ErrorCode:
    INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
    RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
    RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
    RESOURCE_CONFLICT = "RESOURCE_CONFLICT"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"


HTTP_STATUS = {
    ErrorCode.INVALID_PARAMETER_VALUE: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.RESOURCE_DOES_NOT_EXIST: 404,
    ErrorCode.RESOURCE_ALREADY_EXISTS: 409,
    ErrorCode.RESOURCE_CONFLICT: 409,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.NOT_IMPLEMENTED: 501,
    ErrorCode.TEMPORARILY_UNAVAILABLE: 503,
}


class KilnError(Exception):
    code = ErrorCode.INVALID_PARAMETER_VALUE

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


class NotFound(KilnError):
    """The object does not exist."""

    code = ErrorCode.RESOURCE_DOES_NOT_EXIST


class AlreadyExists(KilnError):
    """An object with that name already exists."""

    code = ErrorCode.RESOURCE_ALREADY_EXISTS


class Conflict(KilnError):
    """Someone else holds or changed what this request needs (a lock, a state)."""

    code = ErrorCode.RESOURCE_CONFLICT


class PermissionDenied(KilnError):
    code = ErrorCode.PERMISSION_DENIED


class Unauthenticated(KilnError):
    code = ErrorCode.UNAUTHENTICATED


class NotSupported(KilnError):
    """A request kiln does not carry out (it says what to do instead). A client error, as
    Databricks answers a feature a workspace lacks: nothing failed on the server."""


class Unavailable(KilnError):
    """What the request needs is not running now (a workspace's server process)."""

    code = ErrorCode.TEMPORARILY_UNAVAILABLE
