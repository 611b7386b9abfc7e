"""Runs executed by a detached worker process: ``kiln bundle run --no-wait``, ``kiln jobs
run-now --no-wait`` and runs started by monitor alerts.

``start`` records the run and starts ``python -m kiln.jobs.detached WORKSPACE RUN_ID``,
which adopts the run (so a crash shows as a failed run) and executes it; ``start`` returns
once the worker has the run.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from typing import Any

from kiln.errors import KilnError


def start(ws: Any, job_id: int, params: dict[str, str] | None = None,
          python_params: list[str] | None = None) -> int:
    from kiln.jobs.engine import Engine

    run_id = Engine(ws).submit(job_id, params or {}, python_params)
    log_dir = ws.run_dir(run_id)
    os.makedirs(log_dir, exist_ok=True)
    with open(os.path.join(log_dir, "runner.log"), "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "kiln.jobs.detached", ws.name,
                                 str(run_id)], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, start_new_session=True)
    for _ in range(300):  # until the worker has adopted the run (or died)
        runner = ws.runner_of(run_id)
        if runner is not None and runner[1] == proc.pid:
            return run_id
        if proc.poll() is not None:
            raise KilnError(f"the run's worker process exited with {proc.returncode}; "
                            f"see {os.path.join(log_dir, 'runner.log')}")
        time.sleep(0.05)
    return run_id


def main(argv: list[str]) -> int:
    from kiln.jobs.engine import Engine
    from kiln.settings import Settings
    from kiln.workspace.local.home import WorkspaceHome

    import signal

    gc.enable()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a cancel, as Ctrl-C
    name, run_id = argv[0], int(argv[1])
    s = Settings.from_env()
    ws = WorkspaceHome(s.home).open(name, s.user or "kiln")
    doc = Engine(ws, workers=s.task_workers, server_url=s.server_url).execute(run_id)
    return 0 if doc["state"].get("result_state") == "SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
