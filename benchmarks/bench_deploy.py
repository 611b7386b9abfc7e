"""Benchmark: `kiln bundle deploy` of a 200-job bundle with 500 synced files.

Measures, as a user runs them (fresh `kiln` processes): the first deploy into a new
workspace, a no-change redeploy, and a redeploy after one job and one file changed. The
issue names no peer (the Databricks CLI deploys to a remote workspace through Terraform
and cannot run here), so the figures are absolute. Goal: no-change redeploy under 1 s.

Run alone: `.venv/bin/python benchmarks/bench_deploy.py [--runs N] [--json PATH]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

JOBS, FILES = 200, 500


def generate(root: str) -> None:
    os.makedirs(os.path.join(root, "notebooks"))
    os.makedirs(os.path.join(root, "src"))
    for i in range(10):
        with open(os.path.join(root, "notebooks", f"nb_{i}.py"), "w") as f:
            f.write("# Databricks notebook source\nprint('step')\n")
    for i in range(FILES - 11):
        with open(os.path.join(root, "src", f"module_{i:03d}.py"), "w") as f:
            f.write(f"VALUE = {i}\n" * 20)
    jobs = []
    for j in range(JOBS):
        tasks = "".join(
            f"        - task_key: t{t}\n"
            + (f"          depends_on: [{{task_key: t{t - 1}}}]\n" if t else "")
            + f"          notebook_task: {{notebook_path: ./notebooks/nb_{t}.py, "
              f"base_parameters: {{table: '${{var.catalog}}.s.t{j}'}}}}\n"
            for t in range(5))
        jobs.append(f"    job_{j:03d}:\n      name: job-{j:03d}\n      tasks:\n{tasks}")
    with open(os.path.join(root, "databricks.yml"), "w") as f:
        f.write("bundle: {name: bench}\nvariables: {catalog: {default: main}}\n"
                "resources:\n  jobs:\n" + "".join(jobs)
                + "targets:\n  prod:\n    mode: production\n"
                  "    workspace: {root_path: /Workspace/Shared/.bundle/bench/prod}\n")


def kiln(root: str, home: str, *args: str) -> float:
    env = {**os.environ, "KILN_HOME": home, "KILN_USER": "bench@example.com"}
    exe = os.path.join(os.path.dirname(sys.executable), "kiln")
    t0 = time.perf_counter()
    proc = subprocess.run([exe, *args], cwd=root, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"kiln {' '.join(args)} failed:\n{proc.stderr}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", default="benchmarks/results/bench_deploy.json")
    args = ap.parse_args()
    first, nochange, onechange = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "bundle")
        os.makedirs(root)
        generate(root)
        for r in range(args.runs):
            home = os.path.join(tmp, f"home{r}")
            first.append(kiln(root, home, "bundle", "deploy", "-t", "prod"))
            nochange.append(kiln(root, home, "bundle", "deploy", "-t", "prod"))
            yml = os.path.join(root, "databricks.yml")
            text = open(yml).read()
            open(yml, "w").write(text.replace("name: job-007\n", f"name: job-007-r{r}\n"))
            with open(os.path.join(root, "src", "module_000.py"), "a") as f:
                f.write(f"# run {r}\n")
            onechange.append(kiln(root, home, "bundle", "deploy", "-t", "prod"))
            shutil.rmtree(home)
    rows = [("first deploy (new workspace)", first), ("no-change redeploy", nochange),
            ("redeploy: 1 job + 1 file changed", onechange)]
    print(f"bundle: {JOBS} jobs x 5 tasks, {FILES} synced files; {args.runs} runs each")
    print(f"{'kiln bundle deploy':36} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, times in rows:
        print(f"{name:36} {statistics.median(times):9.3f} {min(times):7.3f} {max(times):7.3f}")
    goal = statistics.median(nochange)
    print(f"\ngoal: no-change redeploy under 1 s -> {'met' if goal < 1 else 'NOT met'} ({goal:.2f} s)")
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d"), "machine": platform.platform(),
                   "cpus": os.cpu_count(), "jobs": JOBS, "files": FILES,
                   "median_seconds": {n: statistics.median(t) for n, t in rows}}, f, indent=2)


if __name__ == "__main__":
    main()
