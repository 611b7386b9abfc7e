"""Whether a process is alive (stdlib only: task and compute processes use it)."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """True while process ``pid`` runs; a zombie (exited, not yet reaped) is not alive."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return True
