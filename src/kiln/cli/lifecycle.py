"""How a kiln process ends.

Commands that only read files and print (``bundle validate``, ``summary``, ``schema``)
ask for a fast exit: once their output is flushed the process ends without tearing down
the large trees it built, which on big bundles takes longer than printing them.
"""

from __future__ import annotations

import os
import sys

_fast = False


def request_fast_exit() -> None:
    global _fast
    _fast = True


def fast_exit_requested() -> bool:
    return _fast


def exit_now(code: object) -> None:
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message") prints the message and exits 1
        sys.stderr.write(f"{code}\n")
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)
