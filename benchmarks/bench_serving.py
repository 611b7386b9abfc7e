"""Benchmark: one scikit-learn model (a 50-tree gradient-boosting classifier on 12
features) served three ways, side by side in one run, on the same HTTP stack (uvicorn with
httptools and uvloop, one process each) and measured by the same load generator (`wrk`):

- kiln: `kiln server` with bearer-token auth, routing, metrics and inference-table capture
  on, following the model's `@champion` alias;
- MLflow: `mlflow models serve --env-manager local` (its FastAPI scoring server);
- lean: an ASGI app that only parses a `dataframe_split` body and calls predict.

Payloads of 1 and 32 rows, 8 and 32 connections; requests/s and p50/p99 latency of each,
and kiln's ratios to the others. Goals (issue 18): kiln's throughput at least the lean
app's in every case and 1.5x it at 32 connections, with at most 1/10 of MLflow's p99, capture
on. Servers run one at a time (2-core machine). The lean app is as strong as
`serving_bench.py`'s (orjson, numpy, the estimator's predict; no pandas).
`wrk` comes from Debian (`apt-get install wrk`; `scripts/install-wrk.sh`).

Run alone: `.venv/bin/python benchmarks/bench_serving.py [--duration S] [--json PATH]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.dirname(sys.executable)
N_FEATURES = 12


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(home: str) -> tuple[str, dict[str, str]]:
    """A kiln workspace with the model registered (@champion), an endpoint following it
    with capture on, and a token; (token, MLflow environment)."""
    import mlflow
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import GradientBoostingClassifier

    from kiln.models.store import ensure_store, mlflow_env
    from kiln.workspace.local.home import WorkspaceHome

    ws = WorkspaceHome(home).open("bench", "bench@example.com")
    ensure_store(ws.local_root())
    env = mlflow_env(ws.local_root())
    os.environ.update(env)
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    mlflow.set_registry_uri(env["MLFLOW_REGISTRY_URI"])
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(5000, N_FEATURES)),
                     columns=[f"f{i}" for i in range(N_FEATURES)])
    y = (X.f0 + X.f1 * X.f2 - X.f3 > 0).astype(int)
    model = GradientBoostingClassifier(n_estimators=50, random_state=0).fit(X, y)
    with mlflow.start_run():
        mlflow.sklearn.log_model(model, name="model", input_example=X.head(2),
                                 pip_requirements=["scikit-learn"],
                                 serialization_format="cloudpickle",
                                 registered_model_name="main.ml.gbt")
    mlflow.MlflowClient().set_registered_model_alias("main.ml.gbt", "champion", 1)
    create_endpoint(ws, "gbt", "main.ml.gbt")
    token = ws.create_token("bench@example.com", "bench")[1]
    ws.close()
    return token, env


def create_endpoint(ws: Any, name: str, model: str) -> None:
    """An endpoint following ``model@champion`` with its inference table on (main.ml)."""
    ws.create("schemas", "ml", {"name": "ml", "catalog_name": "main"})
    ws.create("model_serving_endpoints", name, {"name": name, "config": {
        "served_entities": [{"name": "champion", "entity_name": model,
                             "entity_alias": "champion", "workload_size": "Small"}],
        "auto_capture_config": {"catalog_name": "main", "schema_name": "ml",
                                "table_name_prefix": name}}})


def payload(rows: int) -> str:
    import numpy as np

    rng = np.random.default_rng(rows)
    data = rng.normal(size=(rows, N_FEATURES)).round(4).tolist()
    return json.dumps({"dataframe_split": {"columns": [f"f{i}" for i in range(N_FEATURES)],
                                           "data": data}})


def start(name: str, port: int, home: str, env: dict[str, str]) -> subprocess.Popen:
    base = {**os.environ, **env, "KILN_HOME": home, "KILN_USER": "bench@example.com",
            "PATH": BIN + os.pathsep + os.environ.get("PATH", "")}
    if name == "kiln":
        cmd = [os.path.join(BIN, "kiln"), "server", "-w", "bench", "--port", str(port)]
    elif name == "mlflow":
        cmd = [os.path.join(BIN, "mlflow"), "models", "serve", "-m", "models:/main.ml.gbt/1",
               "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"]
    else:
        cmd = [sys.executable, "-m", "uvicorn", "serving_lean_app:app", "--port", str(port),
               "--loop", "uvloop", "--http", "httptools", "--log-level", "warning",
               "--no-access-log"]
        base["LEAN_MODEL_URI"] = "models:/main.ml.gbt/1"
        base["PYTHONPATH"] = HERE
    proc = subprocess.Popen(cmd, env=base, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    return proc


def wait_ready(url: str, body: str, headers: dict[str, str], proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server {url} exited with {proc.returncode}")
        try:
            req = urllib.request.Request(url, data=body.encode(), headers=headers)
            with urllib.request.urlopen(req, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"server {url} never answered")


LUA = """wrk.method = "POST"
wrk.body = io.open("{body}"):read("*a")
wrk.headers["Content-Type"] = "application/json"
{auth}
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %f %f\\n", summary.requests, summary.errors.status
    + summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def wrk(url: str, body_file: str, token: str | None, conns: int, duration: int,
        tmp: str) -> dict[str, float]:
    script = os.path.join(tmp, "post.lua")
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    with open(script, "w") as f:
        f.write(LUA.format(body=body_file, auth=auth))
    out = subprocess.run(["wrk", "-t", "1", "-c", str(conns), "-d", f"{duration}s", "-s", script,
                          url], capture_output=True, text=True, check=True).stdout
    n, errors, p50, p99 = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+)", out).groups()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"rps": rps, "p50_ms": float(p50) / 1000, "p99_ms": float(p99) / 1000,
            "requests": int(n), "errors": int(errors)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--json", default=os.path.join(HERE, "results", "bench_serving.json"))
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: run scripts/install-wrk.sh (Debian package)")
    tmp = tempfile.mkdtemp(prefix="kiln-bench-serving-")
    home = os.path.join(tmp, "home")
    token, env = prepare(home)
    bodies = {}
    for rows in (1, 32):
        bodies[rows] = os.path.join(tmp, f"body{rows}.json")
        with open(bodies[rows], "w") as f:
            f.write(payload(rows))
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name in ("kiln", "mlflow", "lean"):
        port = free_port()
        path = "/serving-endpoints/gbt/invocations" if name == "kiln" else "/invocations"
        url = f"http://127.0.0.1:{port}{path}"
        proc = start(name, port, home, env)
        try:
            headers = {"Content-Type": "application/json"}
            if name == "kiln":
                headers["Authorization"] = f"Bearer {token}"
            wait_ready(url, open(bodies[1]).read(), headers, proc)
            for rows in (1, 32):
                for conns in (8, 32):
                    key = f"{rows} rows, {conns} conns"
                    r = wrk(url, bodies[rows], token if name == "kiln" else None, conns,
                            args.duration, tmp)
                    results.setdefault(key, {})[name] = r
                    print(f"{name:7} {key:18} {r['rps']:9.0f} req/s  p50 {r['p50_ms']:7.2f} ms"
                          f"  p99 {r['p99_ms']:7.2f} ms  errors {r['errors']}", flush=True)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
    print()
    print(f"{'case':18} {'kiln/mlflow rps':>15} {'mlflow/kiln p99':>15} {'kiln/lean rps':>13}")
    for key, r in results.items():
        print(f"{key:18} {r['kiln']['rps'] / r['mlflow']['rps']:15.1f} "
              f"{r['mlflow']['p99_ms'] / r['kiln']['p99_ms']:15.1f} "
              f"{r['kiln']['rps'] / r['lean']['rps']:13.2f}")
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d"), "machine": platform.platform(),
                   "cpus": os.cpu_count(), "duration_s": args.duration, "results": results},
                  f, indent=2)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
