"""A short run of benchmarks/bench_server_load.py on PostgreSQL: concurrent clients
creating and running jobs and reading tables lose no run, start none twice and never
wait on a deadlock (the full 50-client, 60 s run is the benchmark's)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).parents[2] / "benchmarks" / "bench_server_load.py"


def test_concurrent_clients_lose_no_run_and_never_deadlock() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--clients", "12", "--seconds", "8",
                           "--runs-per-client", "1"], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for check in ("no request failed", "no client hung", "no run lost", "no run twice",
                  "every run succeeded"):
        assert f"ok  {check}" in proc.stdout
