"""Benchmark: `kiln bundle validate -o json` on a large generated bundle.

1,000 jobs of 10 tasks each, spread over 10 include files, with 4 targets. Measures the
whole command (a fresh `kiln` process, as a user runs it) and, in-process, where the time
goes per pipeline step. The issue names no peer to run side by side (the Databricks CLI is
not installable here), so the figure is absolute; the goal is under 2 seconds.

Run alone: `.venv/bin/python benchmarks/bench_validate.py [--runs N] [--json PATH]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

JOBS, TASKS, FILES = 1000, 10, 10
TARGETS = ("dev", "staging", "prod", "test")


def generate(root: str) -> None:
    os.makedirs(os.path.join(root, "resources"), exist_ok=True)
    os.makedirs(os.path.join(root, "notebooks"), exist_ok=True)
    for t in range(TASKS):
        with open(os.path.join(root, "notebooks", f"step_{t}.py"), "w") as f:
            f.write("# Databricks notebook source\nprint('step')\n")
    targets = []
    for name in TARGETS:
        mode = "development" if name == "dev" else "production" if name == "prod" else None
        body = [f"  {name}:"]
        if name == "dev":
            body.append("    default: true")
        if mode:
            body.append(f"    mode: {mode}")
        if name != "dev":
            body += ["    workspace:",
                     "      root_path: /Workspace/Shared/.bundle/${bundle.name}/${bundle.target}"]
        body += ["    variables:", f"      catalog: {name}"]
        targets.append("\n".join(body))
    with open(os.path.join(root, "databricks.yml"), "w") as f:
        f.write("bundle:\n  name: big\n\n"
                "variables:\n  catalog:\n    default: main\n  retries:\n    default: 2\n\n"
                "include:\n  - resources/*.yml\n\n"
                "targets:\n" + "\n".join(targets) + "\n")
    per_file = JOBS // FILES
    for fi in range(FILES):
        lines = ["resources:", "  jobs:"]
        for j in range(fi * per_file, (fi + 1) * per_file):
            lines += [f"    job_{j}:",
                      f"      name: job-{j}-${{bundle.target}}",
                      "      parameters:",
                      "        - name: run_date",
                      '          default: ""',
                      "      schedule:",
                      '        quartz_cron_expression: "0 0 1 * * ?"',
                      "        timezone_id: UTC",
                      "      tasks:"]
            for t in range(TASKS):
                lines += [f"        - task_key: t{t}"]
                if t:
                    lines += ["          depends_on:", f"            - task_key: t{t - 1}"]
                lines += ["          max_retries: ${var.retries}",
                          "          notebook_task:",
                          f"            notebook_path: ../notebooks/step_{t}.py",
                          "            base_parameters:",
                          f"              table: ${{var.catalog}}.sales.t{j}_{t}",
                          "              date: '{{job.parameters.run_date}}'"]
        with open(os.path.join(root, "resources", f"jobs_{fi}.yml"), "w") as f:
            f.write("\n".join(lines) + "\n")


def kiln_bin() -> str:
    return os.path.join(os.path.dirname(sys.executable), "kiln")


def time_command(root: str, target: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run([kiln_bin(), "bundle", "validate", "-o", "json", "-t", target],
                              cwd=root, capture_output=True, env={**os.environ, "KILN_USER":
                                                                   "bench@example.com"})
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            sys.exit(f"validate failed:\n{proc.stderr.decode()}")
    return times


def profile_steps(root: str, target: str) -> dict[str, float]:
    """Seconds per pipeline step, measured in-process."""
    from kiln.bundle import LoadContext
    from kiln.bundle import phases
    from kiln.bundle.dyn.value import to_plain
    from kiln.bundle.state import Loading
    from kiln.bundle.steps.load import load_config_file
    import orjson

    import gc

    gc.disable()  # as load_bundle does
    ctx = LoadContext(target=target, default_user="bench@example.com")
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    config, _ = load_config_file(root, "databricks.yml")
    out["load root file"] = time.perf_counter() - t0
    state = Loading(root, "databricks.yml", config, ctx)
    for step in phases.LOAD + phases.INITIALIZE:
        t0 = time.perf_counter()
        state, diags = step(state)
        out[step.__name__] = time.perf_counter() - t0
    t0 = time.perf_counter()
    plain = to_plain(state.config)
    out["to_plain"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    orjson.dumps(plain, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    out["json output"] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", default="benchmarks/results/bench_validate.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as root:
        generate(root)
        size = sum(os.path.getsize(os.path.join(root, "resources", f))
                   for f in os.listdir(os.path.join(root, "resources")))
        results = {}
        for target in ("dev", "prod"):
            results[target] = time_command(root, target, args.runs)
        steps = profile_steps(root, "dev")
        startup = time_command_help(args.runs)

    print(f"bundle: {JOBS} jobs x {TASKS} tasks, {FILES} include files "
          f"({size / 1e6:.1f} MB YAML), {len(TARGETS)} targets; {args.runs} runs each")
    print(f"{'command':40} {'median s':>9} {'min s':>7} {'max s':>7}")
    for target, times in results.items():
        print(f"{'kiln bundle validate -o json -t ' + target:40} {statistics.median(times):9.3f} "
              f"{min(times):7.3f} {max(times):7.3f}")
    print(f"{'kiln --version (process start)':40} {statistics.median(startup):9.3f}")
    print("\nin-process time per step (dev):")
    for name, secs in sorted(steps.items(), key=lambda kv: -kv[1]):
        print(f"  {name:28} {secs * 1000:8.1f} ms")
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d"), "machine": platform.platform(),
                   "cpus": os.cpu_count(), "jobs": JOBS, "tasks_per_job": TASKS,
                   "median_seconds": {t: statistics.median(v) for t, v in results.items()},
                   "startup_seconds": statistics.median(startup),
                   "steps_ms": {k: v * 1000 for k, v in steps.items()}}, f, indent=2)
    goal = max(statistics.median(v) for v in results.values())
    print(f"\ngoal: under 2 s -> {'met' if goal < 2 else 'NOT met'} ({goal:.2f} s)")


def time_command_help(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([kiln_bin(), "--version"], capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return times


if __name__ == "__main__":
    main()
