"""Benchmark: how long the registry's CLI commands take on a workspace holding 100
registered models and 1,000 versions (10 each, with aliases, tags, runs with metrics and
params, one experiment of 100 runs).

Each kiln command is timed as a whole process (`kiln models list -w bench`, ...), three
times, and the median is kept. Side by side, in the same run, the same read made by
MLflow's own client in a fresh process (`MlflowClient(...).search_registered_models()`
and the like): the floor that importing MLflow sets. Goals: every read command < 0.5 s,
every mutating command < 1 s.

Run alone: `.venv/bin/python benchmarks/bench_cli.py [--json PATH]`.
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

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.dirname(sys.executable)
MODELS, VERSIONS, USER = 100, 10, "bench@example.com"
MODEL = "main.s.model_042"


def build(home: str) -> str:
    """The workspace: its MLflow store filled through MLflow's own client."""
    import mlflow
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from kiln.catalog import Catalog
    from kiln.models import store
    from kiln.workspace.local import WorkspaceHome

    for name in ("prod", "bench"):
        ws = WorkspaceHome(home).open(name, USER)
        Catalog(ws).create_catalog("main")
        Catalog(ws).create_schema("main", "s")
        root = ws.local_root()
        ws.close()
        if name == "prod":
            continue
        client = store.client(root)
        with store.using(root):
            exp = mlflow.set_experiment("/bench/training")
            with mlflow.start_run() as first:
                model = LogisticRegression().fit(np.arange(20).reshape(10, 2), [0, 1] * 5)
                info = mlflow.sklearn.log_model(model, name="model")
            run_ids = [first.info.run_id]
            for i in range(MODELS - 1):
                run = client.create_run(exp.experiment_id, run_name=f"train-{i}",
                                        tags={"kiln.job_run_id": str(i)})
                for step in range(5):
                    client.log_metric(run.info.run_id, "roc_auc", 0.7 + i / 1000, step=step)
                client.log_param(run.info.run_id, "C", str(i))
                client.set_terminated(run.info.run_id)
                run_ids.append(run.info.run_id)
            for m in range(MODELS):
                name_m = f"main.s.model_{m:03d}"
                client.create_registered_model(name_m, description=f"model {m}")
                for v in range(VERSIONS):
                    client.create_model_version(name_m, info.model_uri,
                                                run_id=run_ids[(m + v) % MODELS],
                                                tags={"kiln.validation.status": "PASSED"})
                client.set_registered_model_alias(name_m, "champion", "8")
                client.set_registered_model_alias(name_m, "challenger", "9")
    return root


def timed(args: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def median_of_3(args: list[str], env: dict[str, str]) -> float:
    """Three runs; a ``{i}`` in an argument becomes 4, 5, 6 (a version each run, for steps
    that may happen once per version)."""
    return statistics.median(timed([a.replace("{i}", str(4 + i)) for a in args], env)
                             for i in range(3))


def mlflow_peer(root: str, call: str) -> list[str]:
    from kiln.models import store

    code = (f"from mlflow import MlflowClient\n"
            f"c = MlflowClient({store.store_uri(root)!r}, {store.store_uri(root)!r})\n"
            f"{call}\n")
    return [sys.executable, "-c", code]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=os.path.join(HERE, "results", "bench_cli.json"))
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="kiln-bench-cli-")
    root = build(home)
    env = {**os.environ, "KILN_HOME": home, "KILN_USER": USER}
    kiln = os.path.join(BIN, "kiln")
    w = ["-w", "bench"]
    reads = [
        ("models list", [kiln, "models", "list", *w],
         "c.search_registered_models(max_results=1000)"),
        ("models get", [kiln, "models", "get", MODEL, *w],
         f"c.get_registered_model({MODEL!r})"),
        ("models versions", [kiln, "models", "versions", MODEL, *w],
         f"c.search_model_versions(\"name = '{MODEL}'\")"),
        ("models card", [kiln, "models", "card", MODEL, *w],
         f"c.get_run(c.get_model_version({MODEL!r}, '10').run_id)"),
        ("experiments list", [kiln, "experiments", "list", *w], "c.search_experiments()"),
        ("experiments runs", [kiln, "experiments", "runs", "/bench/training", *w],
         "c.search_runs([c.get_experiment_by_name('/bench/training').experiment_id], "
         "max_results=25)"),
        ("lineage", [kiln, "lineage", MODEL, *w],
         f"c.search_model_versions(\"name = '{MODEL}'\")"),
    ]
    writes = [
        ("models set-alias", [kiln, "models", "set-alias", MODEL, "staging", "3", *w],
         f"c.set_registered_model_alias({MODEL!r}, 'staging', '3')"),
        ("models request-approval", [kiln, "models", "request-approval", MODEL,
                                     "--version", "{i}", *w],
         f"c.set_model_version_tag({MODEL!r}, '4', 'kiln.approval.status', 'pending')"),
        ("models approve", [kiln, "models", "approve", MODEL, "--version", "{i}", *w],
         f"c.set_model_version_tag({MODEL!r}, '4', 'kiln.approval.status', 'approved')"),
        ("models promote", [kiln, "models", "promote", MODEL, "--version", "4",
                            "--from", "bench", "--to", "prod"],
         f"c.copy_model_version('models:/{MODEL}/4', 'main.s.copied')"),
    ]
    rows = []
    print(f"{MODELS} models, {MODELS * VERSIONS} versions; median of 3 runs, seconds")
    print(f"{'command':26} {'kiln':>7} {'MLflow client':>14}  goal")
    for kind, cases, goal in (("read", reads, 0.5), ("write", writes, 1.0)):
        for label, cmd, call in cases:
            if label == "models promote":  # once: a second promote finds the first copy
                kiln_s = timed(cmd, env)
                peer_s = timed(mlflow_peer(root, call), env)
            else:
                kiln_s = median_of_3(cmd, env)
                peer_s = median_of_3(mlflow_peer(root, call), env)
            rows.append({"command": label, "kind": kind, "kiln_s": kiln_s,
                         "mlflow_client_s": peer_s, "goal_s": goal, "met": kiln_s < goal})
            print(f"{label:26} {kiln_s:7.2f} {peer_s:14.2f}  < {goal} "
                  f"{'yes' if kiln_s < goal else 'NO'}")
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d"), "machine": platform.platform(),
                   "models": MODELS, "versions": MODELS * VERSIONS, "rows": rows}, f,
                  indent=2)


if __name__ == "__main__":
    main()
