"""Load: concurrent clients on one `kiln server` whose metadata lives in PostgreSQL.

Each client (a thread with its own token and HTTP connection) makes a job of its own,
then for the whole duration loops over: start a run of it (until it has started its
share), read the run, list its job's runs, list the schema's tables, read a table, and
list jobs. When the time is up, every run must end, and the runs the server lists must
be exactly the ones the clients started: none lost, none twice. Every request must be
answered (no deadlock: a request that takes more than 60 s fails the run).

Prints p50/p99 latency per API and overall; exits 1 if any check fails.

    .venv/bin/python benchmarks/bench_server_load.py [--clients 50] [--seconds 60]
        [--runs-per-client 2] [--store postgresql|sqlite] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict

import httpx

from peers import KILN, kiln_server

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

NOTEBOOK = "# Databricks notebook source\ndbutils.notebook.exit('ok')\n"


def kiln(env: dict[str, str], *args: str) -> str:
    return subprocess.run([KILN, *args], env=env, check=True, capture_output=True,
                          text=True).stdout


def seed(env: dict[str, str], tmp: str) -> None:
    import pyarrow as pa
    from deltalake import write_deltalake

    kiln(env, "catalogs", "create", "main", "-w", "load")
    kiln(env, "schemas", "create", "main.load", "-w", "load")
    for i in range(5):
        where = os.path.join(tmp, f"t{i}")
        write_deltalake(where, pa.table({"id": list(range(100))}))
        kiln(env, "tables", "create", f"main.load.t{i}", "--location", where, "-w", "load")


class Client(threading.Thread):
    def __init__(self, n: int, url: str, token: str, until: float, runs: int,
                 times: dict[str, list[float]], errors: list[str]) -> None:
        super().__init__(daemon=True)
        self.n, self.until, self.runs_left = n, until, runs
        self.http = httpx.Client(base_url=url, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"})
        self.times, self.errors = times, errors
        self.started: list[int] = []

    def call(self, name: str, method: str, path: str, **kw: object) -> dict:
        t0 = time.perf_counter()
        try:
            r = self.http.request(method, path, **kw)
        except httpx.HTTPError as e:
            self.errors.append(f"{name}: {type(e).__name__} {e}")
            return {}
        self.times[name].append(time.perf_counter() - t0)
        if r.status_code != 200:
            self.errors.append(f"{name}: {r.status_code} {r.text[:200]}")
            return {}
        return r.json()

    def run(self) -> None:
        me = f"/Workspace/Users/client{self.n}/nb"
        import base64

        self.call("workspace/import", "POST", "/api/2.0/workspace/import", json={
            "path": me, "format": "SOURCE", "language": "PYTHON", "overwrite": True,
            "content": base64.b64encode(NOTEBOOK.encode()).decode()})
        job = self.call("jobs/create", "POST", "/api/2.2/jobs/create", json={
            "name": f"load-{self.n}", "tasks": [{"task_key": "t",
                                                 "notebook_task": {"notebook_path": me}}]})
        job_id = job.get("job_id")
        i = 0
        while time.monotonic() < self.until and job_id is not None:
            if self.runs_left:
                run = self.call("jobs/run-now", "POST", "/api/2.2/jobs/run-now",
                                json={"job_id": job_id})
                if "run_id" in run:
                    self.started.append(run["run_id"])
                    self.runs_left -= 1
            if self.started:
                self.call("jobs/runs/get", "GET", "/api/2.2/jobs/runs/get",
                          params={"run_id": self.started[-1]})
            self.call("jobs/runs/list", "GET", "/api/2.2/jobs/runs/list",
                      params={"job_id": job_id})
            self.call("tables/list", "GET", "/api/2.1/unity-catalog/tables",
                      params={"catalog_name": "main", "schema_name": "load"})
            self.call("tables/get", "GET", f"/api/2.1/unity-catalog/tables/main.load.t{i % 5}")
            self.call("jobs/list", "GET", "/api/2.2/jobs/list", params={"limit": 25})
            i += 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--runs-per-client", type=int, default=2)
    ap.add_argument("--store", choices=["postgresql", "sqlite"], default="postgresql")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from tests.e2e.helpers import Postgres

    tmp = tempfile.mkdtemp(prefix="kiln-load-")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "DATABRICKS_"))},
           "KILN_HOME": os.path.join(tmp, "home"), "KILN_USER": "admin@example.com"}
    pg = Postgres() if args.store == "postgresql" else None
    server = None
    try:
        server, url = kiln_server(env, "-w", "load",
                                  *(["--db", pg.database()] if pg else []))
        seed(env, tmp)
        tokens = [json.loads(kiln(env, "tokens", "create", "-w", "load", "--user",
                                  f"client{i}@example.com"))["token_value"]
                  for i in range(args.clients)]
        times: dict[str, list[float]] = defaultdict(list)
        errors: list[str] = []
        until = time.monotonic() + args.seconds
        clients = [Client(i, url, tokens[i], until, args.runs_per_client, times, errors)
                   for i in range(args.clients)]
        t0 = time.monotonic()
        for c in clients:
            c.start()
        for c in clients:
            c.join(args.seconds + 120)
        hung = [c.n for c in clients if c.is_alive()]
        elapsed = time.monotonic() - t0
        started = [r for c in clients for r in c.started]

        # every run ends, and the server lists exactly the runs the clients started
        admin = httpx.Client(base_url=url, timeout=60, headers={
            "Authorization": f"Bearer {json.loads(kiln(env, 'tokens', 'create', '-w', 'load'))['token_value']}"})
        deadline = time.monotonic() + 600
        listed: list[int] = []
        while time.monotonic() < deadline:
            listed, token = [], "0"
            states = []
            while True:
                page = admin.get("/api/2.2/jobs/runs/list",
                                 params={"limit": 25, "page_token": token}).json()
                listed += [r["run_id"] for r in page.get("runs", [])]
                states += [r["state"]["life_cycle_state"] for r in page.get("runs", [])]
                if not page.get("has_more"):
                    break
                token = page["next_page_token"]
            if all(s in ("TERMINATED", "INTERNAL_ERROR", "SKIPPED") for s in states):
                break
            time.sleep(1)
        ended = time.monotonic() - t0
        results = [admin.get("/api/2.2/jobs/runs/get", params={"run_id": r}).json()
                   ["state"].get("result_state") for r in started]
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
        if pg is not None:
            pg.stop()

    all_times = [t for v in times.values() for t in v]
    pct = lambda v, q: statistics.quantiles(v, n=100)[q - 1] * 1000 if len(v) > 1 else 0.0  # noqa: E731
    rows = [(name, len(v), pct(v, 50), pct(v, 99)) for name, v in sorted(times.items())]
    rows.append(("all", len(all_times), pct(all_times, 50), pct(all_times, 99)))
    print(f"kiln server load: {args.clients} clients, {args.seconds:.0f} s, {args.store} "
          f"metadata ({platform.node()}, {os.cpu_count()} cores)")
    print(f"{'API':22} {'calls':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for name, n, p50, p99 in rows:
        print(f"{name:22} {n:7d} {p50:8.1f} {p99:8.1f}")
    print(f"requests/s: {len(all_times) / elapsed:.0f}; runs started: {len(started)}, listed: "
          f"{len(listed)}, succeeded: {results.count('SUCCESS')}; all ended after "
          f"{ended:.0f} s")
    checks = {
        "no request failed": not errors,
        "no client hung": not hung,
        "no run lost": sorted(set(listed)) == sorted(started),
        "no run twice": len(listed) == len(set(listed)) and len(started) == len(set(started)),
        "every run succeeded": results.count("SUCCESS") == len(started),
    }
    for name, ok in checks.items():
        print(f"  {'ok ' if ok else 'FAIL'} {name}")
    for e in errors[:10]:
        print("   ", e)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "checks": checks, "runs": len(started)}, f)
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
