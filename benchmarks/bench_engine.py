"""Benchmark: a 100-task no-op DAG (10 layers of 10, each task depending on every task of
the layer before) run by kiln and, side by side in the same run, by Dagster with process
isolation (its multiprocess executor, 4 processes at a time, as kiln's 4 workers).

Both are timed as whole commands (`kiln bundle run dag` and `dagster job execute`), from
process start to exit. Dagster is installed into its own virtual environment
(`benchmarks/.venv-dagster`, from PyPI) the first time. Goal: kiln at least 5x faster, with
at most 10 ms of engine overhead per task (the whole command's time over the 100 tasks).

Run alone: `.venv/bin/python benchmarks/bench_engine.py [--runs N] [--json PATH]`.
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
import textwrap
import time

from peers import peer_python


LAYERS, WIDTH = 10, 10
HERE = os.path.dirname(os.path.abspath(__file__))


def kiln_bundle(root: str) -> None:
    lines = ["bundle: {name: dag}", "resources:", "  jobs:", "    dag:", "      name: dag",
             "      tasks:"]
    for layer in range(LAYERS):
        for i in range(WIDTH):
            lines.append(f"        - task_key: t{layer}_{i}")
            if layer:
                deps = ", ".join(f"{{task_key: t{layer - 1}_{j}}}" for j in range(WIDTH))
                lines.append(f"          depends_on: [{deps}]")
            lines.append("          spark_python_task: {python_file: ./noop.py}")
    with open(os.path.join(root, "databricks.yml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(root, "noop.py"), "w") as f:
        f.write("pass\n")


DAGSTER_JOB = textwrap.dedent(f'''
    from dagster import In, Nothing, job, op, multiprocess_executor

    def make(layer, i):
        ins = {{f"d{{j}}": In(Nothing) for j in range({WIDTH})}} if layer else {{}}

        @op(name=f"t{{layer}}_{{i}}", ins=ins)
        def noop():
            pass
        return noop

    OPS = [[make(layer, i) for i in range({WIDTH})] for layer in range({LAYERS})]

    @job(executor_def=multiprocess_executor.configured({{"max_concurrent": 4}}))
    def dag():
        prev = None
        for layer in range({LAYERS}):
            outs = []
            for i in range({WIDTH}):
                fn = OPS[layer][i]
                outs.append(fn(**{{f"d{{j}}": prev[j] for j in range({WIDTH})}}) if prev else fn())
            prev = outs
''')


def timed(cmd: list[str], cwd: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", default="benchmarks/results/bench_engine.json")
    args = ap.parse_args()
    dagster_python = peer_python("dagster", "dagster")
    kiln_exe = os.path.join(os.path.dirname(sys.executable), "kiln")
    tasks = LAYERS * WIDTH
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "bundle")
        os.makedirs(root)
        kiln_bundle(root)
        kenv = {**os.environ, "KILN_HOME": os.path.join(tmp, "home"), "KILN_USER": "b@x.io"}
        timed([kiln_exe, "bundle", "deploy"], root, kenv)
        job_file = os.path.join(tmp, "dag_job.py")
        with open(job_file, "w") as f:
            f.write(DAGSTER_JOB)
        denv = {**os.environ, "DAGSTER_HOME": os.path.join(tmp, "dagster_home")}
        os.makedirs(denv["DAGSTER_HOME"])
        dagster_cli = os.path.join(os.path.dirname(dagster_python), "dagster")
        kiln_times, dagster_times = [], []
        for _ in range(args.runs):  # interleaved, so both see the same machine
            kiln_times.append(timed([kiln_exe, "bundle", "run", "dag"], root, kenv))
            dagster_times.append(timed([dagster_cli, "job", "execute", "-f", job_file, "-j", "dag"],
                                       tmp, denv))
    k, d = statistics.median(kiln_times), statistics.median(dagster_times)
    print(f"DAG: {tasks} no-op tasks, {LAYERS} layers of {WIDTH}, all-to-all between layers; "
          f"4 at a time, each in its own process; {args.runs} runs each")
    print(f"{'engine':44} {'median s':>9} {'min s':>7} {'per task ms':>12}")
    print(f"{'kiln bundle run (process per task)':44} {k:9.2f} {min(kiln_times):7.2f} "
          f"{k / tasks * 1000:12.1f}")
    print(f"{'dagster job execute (multiprocess executor)':44} {d:9.2f} {min(dagster_times):7.2f} "
          f"{d / tasks * 1000:12.1f}")
    print(f"\nratio: kiln is {d / k:.1f}x faster (goal: at least 5x); "
          f"kiln engine overhead per task: {k / tasks * 1000:.1f} ms (goal: at most 10 ms)")
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d"), "machine": platform.platform(),
                   "cpus": os.cpu_count(), "tasks": tasks, "kiln_seconds": kiln_times,
                   "dagster_seconds": dagster_times, "ratio": d / k}, f, indent=2)


if __name__ == "__main__":
    main()
