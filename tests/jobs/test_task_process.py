"""A task's process, forked by the fork server or started as a new interpreter: the same
isolation either way (its own process and group, its environment, its working directory,
its logs), and a timeout kills its whole tree."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from kiln.jobs import forkserver
from kiln.jobs.runner import run_process
from kiln.jobs.states import SUCCESS, TIMEDOUT

PROBE = """
import json, os, subprocess, sys
print("hello from the task")
print("to stderr", file=sys.stderr)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open(os.environ["PROBE_OUT"], "w") as f:
    json.dump({"pid": os.getpid(), "pgid": os.getpgrp(), "cwd": os.getcwd(),
               "env": os.environ.get("PROBE_VAR"), "grandchild": child.pid}, f)
if os.environ.get("PROBE_SLEEP"):
    import time
    time.sleep(60)
"""


@pytest.fixture(params=["forked", "new interpreter"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("KILN_FORKSERVER", "1" if request.param == "forked" else "0")
    return str(request.param)


def spec(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    script = tmp_path / "code" / "probe.py"
    script.parent.mkdir()
    script.write_text(PROBE)
    return {"kind": "python", "path": str(script), "cwd": str(tmp_path / "work")}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (not yet reaped by its new parent) is dead too
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ")[1].split()[0] != "Z"


def test_a_task_gets_its_own_process_group_env_cwd_and_logs(tmp_path: Path, mode: str,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    out = tmp_path / "probe.json"
    monkeypatch.setenv("PROBE_OUT", str(out))
    monkeypatch.setenv("PROBE_VAR", mode)
    attempt = run_process(spec(tmp_path), str(tmp_path / "task"), timeout_s=60)
    assert attempt.result_state == SUCCESS, attempt
    seen = json.loads(out.read_text())
    assert seen["env"] == mode and seen["cwd"] == str(tmp_path / "work")
    assert seen["pgid"] == seen["pid"] != os.getpgrp() and seen["pid"] != os.getpid()
    assert (tmp_path / "task" / "stdout.log").read_text() == "hello from the task\n"
    assert "to stderr" in (tmp_path / "task" / "stderr.log").read_text()
    if mode == "forked":
        assert forkserver.shared() is not None and forkserver.shared().alive()


def test_a_timeout_kills_the_task_and_what_it_started(tmp_path: Path, mode: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "probe.json"
    monkeypatch.setenv("PROBE_OUT", str(out))
    monkeypatch.setenv("PROBE_SLEEP", "1")
    t0 = time.monotonic()
    attempt = run_process(spec(tmp_path), str(tmp_path / "task"), timeout_s=2)
    assert attempt.result_state == TIMEDOUT and time.monotonic() - t0 < 20
    seen = json.loads(out.read_text())
    deadline = time.monotonic() + 5
    while (alive(seen["pid"]) or alive(seen["grandchild"])) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(seen["pid"]) and not alive(seen["grandchild"])
