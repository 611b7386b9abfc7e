"""Firing scheduled runs: ``schedule`` (Quartz cron in a time zone) and ``trigger.periodic``.

Each tick looks at the UNPAUSED schedules of the workspaces it watches and starts a run
for every job whose next fire time (after its last fire) has come. Fire times missed while
no scheduler was running are not replayed: however many were missed, the job gets one
catch-up run, and the next fire time is computed from now.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

from kiln.cron import parse, zone
from kiln.errors import KilnError
from kiln.events import Event, Listener, ignore
from kiln.workspace import Workspace

_UNITS = {"HOURS": 3600, "DAYS": 86400, "WEEKS": 604800}


def next_fire(settings: dict[str, Any], last_ms: int) -> int | None:
    """Epoch milliseconds of the next fire after ``last_ms``, or None (paused/none)."""
    sched = settings.get("schedule")
    if sched and sched.get("pause_status", "UNPAUSED") != "PAUSED":
        tz = zone(sched.get("timezone_id"))
        after = dt.datetime.fromtimestamp(last_ms / 1000, tz=tz)
        return int(parse(sched["quartz_cron_expression"]).next_after(after).timestamp() * 1000)
    trig = settings.get("trigger") or {}
    periodic = trig.get("periodic")
    if periodic and trig.get("pause_status", "UNPAUSED") != "PAUSED":
        return last_ms + int(periodic["interval"]) * _UNITS[periodic["unit"]] * 1000
    return None


class Scheduler:
    def __init__(self, workspaces: list[Workspace],
                 start_run: Callable[[Workspace, int], None], emit: Listener = ignore,
                 now: Callable[[], float] = time.time) -> None:
        self.workspaces = workspaces
        self.start_run = start_run
        self.emit = emit
        self.now = now

    def tick(self) -> list[tuple[str, int]]:
        """Start what is due; returns (workspace, job_id) of the runs started."""
        fired = []
        now_ms = int(self.now() * 1000)
        for ws in self.workspaces:
            for job in ws.list("jobs"):
                last = ws.last_fire(job.id)
                try:
                    if last is None:  # first sight: the schedule starts counting now
                        ws.advance_fire(job.id, None, now_ms)
                        continue
                    due = next_fire(job.settings, last)
                except KilnError as e:
                    self.emit(Event("schedule_error", f"job {job.id} ({job.name}): {e.summary}"))
                    continue
                if due is None or due > now_ms:
                    continue
                # one run, however many fires were missed, and whichever scheduler saw it
                if not ws.advance_fire(job.id, last, now_ms):
                    continue
                missed = " (catch-up)" if now_ms - due > 60_000 else ""
                self.emit(Event("fired", f"{ws.name}: starting job {job.id} ({job.name}){missed}",
                                {"workspace": ws.name, "job_id": int(job.id)}))
                self.start_run(ws, int(job.id))
                fired.append((ws.name, int(job.id)))
        return fired

    def serve(self, stop: threading.Event, interval: float = 1.0) -> None:
        while not stop.is_set():
            self.tick()
            stop.wait(interval)
