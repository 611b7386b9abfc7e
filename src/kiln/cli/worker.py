"""``python -m kiln.cli.worker WORKSPACE RUN_ID``: executes a submitted run, detached.

``kiln bundle run --no-wait`` and ``kiln jobs run-now --no-wait`` record the run and start
this process; it adopts the run (so a crash shows as a failed run) and executes it.
"""

from __future__ import annotations

import gc
import sys

from kiln.jobs.engine import Engine
from kiln.settings import Settings
from kiln.workspace.local.home import WorkspaceHome


def main(argv: list[str]) -> int:
    gc.enable()
    name, run_id = argv[0], int(argv[1])
    s = Settings.from_env()
    ws = WorkspaceHome(s.home).open(name, s.user or "kiln")
    doc = Engine(ws, workers=s.task_workers).execute(run_id)
    return 0 if doc["state"].get("result_state") == "SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
