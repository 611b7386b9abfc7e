"""One table of error codes: every kiln error has a code, and every code a status."""

from __future__ import annotations

from kiln.errors import (HTTP_STATUS, AlreadyExists, ConfigError, ErrorCode, KilnError,
                         NotFound, NotSupported, PermissionDenied, Unauthenticated, Unavailable,
                         UsageError)
from kiln.workspace import LockHeld, StateConflict


def test_each_error_class_has_its_code_and_status() -> None:
    expected = {KilnError: 400, UsageError: 400, ConfigError: 400, NotFound: 404,
                AlreadyExists: 409, LockHeld: 409, StateConflict: 409, PermissionDenied: 403,
                Unauthenticated: 401, NotSupported: 400, Unavailable: 503}
    assert {cls: HTTP_STATUS[cls.code] for cls in expected} == expected


def test_every_code_maps_to_a_status() -> None:
    codes = {v for k, v in vars(ErrorCode).items() if k.isupper()}
    assert codes == set(HTTP_STATUS)
