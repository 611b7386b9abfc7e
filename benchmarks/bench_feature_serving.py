"""Benchmark: an endpoint whose model looks its features up (from a published feature
table, kiln's online store) against the same model served with the features in the
request, side by side in one run on one `kiln server`.

100,000 customers, two features; a logistic regression. Each request scores one
customer: the lookup endpoint gets `{"customer_id": id}`, the plain one the two feature
values. Load: 8 concurrent clients, 2,000 requests per endpoint, after a warm-up.
Goal: the lookup endpoint's p99 within 2x of the plain one's.

    .venv/bin/python benchmarks/bench_feature_serving.py [--requests N] [--json PATH]
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

import httpx
import numpy as np
import pandas as pd

from peers import KILN, kiln_server

HERE = os.path.dirname(os.path.abspath(__file__))
CUSTOMERS = 100_000


def setup(home: str) -> None:
    """A workspace with the published feature table and both models registered."""
    import mlflow
    from sklearn.linear_model import LogisticRegression

    from kiln.catalog import Catalog
    from kiln.models.store import ensure_store, mlflow_env
    from kiln.workspace.local import WorkspaceHome

    ws = WorkspaceHome(home).open("bench", "bench@example.com")
    root = ws.local_root()
    os.environ.update({"KILN_WORKSPACE_DIR": root, "KILN_USER": "bench@example.com",
                       **mlflow_env(root)})
    ensure_store(root)
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    mlflow.set_registry_uri(os.environ["MLFLOW_REGISTRY_URI"])
    Catalog(ws).create_catalog("main")
    Catalog(ws).create_schema("main", "fs")
    from kiln.features.client import FeatureEngineeringClient, FeatureLookup

    rng = np.random.default_rng(3)
    feats = pd.DataFrame({"customer_id": np.arange(CUSTOMERS),
                          "age": rng.integers(18, 90, CUSTOMERS).astype("int64"),
                          "spend": rng.normal(100, 30, CUSTOMERS).round(2)})
    fe = FeatureEngineeringClient()
    fe.create_table(name="main.fs.customers", primary_keys=["customer_id"], df=feats)
    fe.publish_table(name="main.fs.customers")
    labels = pd.DataFrame({"customer_id": rng.integers(0, CUSTOMERS, 5000),
                           "y": rng.integers(0, 2, 5000)})
    ts = fe.create_training_set(df=labels, label="y", exclude_columns=["customer_id"],
                                feature_lookups=[FeatureLookup("main.fs.customers",
                                                               "customer_id")])
    train = ts.load_df()
    model = LogisticRegression().fit(train[["age", "spend"]], train["y"])
    with mlflow.start_run():
        fe.log_model(model=model, artifact_path="model", flavor=mlflow.sklearn,
                     training_set=ts, registered_model_name="main.fs.lookup")
        mlflow.sklearn.log_model(model, name="plain", registered_model_name="main.fs.plain",
                                 input_example=train[["age", "spend"]].head(2))
    for name in ("lookup", "plain"):
        ws.create("model_serving_endpoints", name, {"name": name, "config": {
            "served_entities": [{"entity_name": f"main.fs.{name}", "entity_version": "1",
                                 "workload_size": "Small", "scale_to_zero_enabled": False}]}})
    ws.close()


def load(url: str, token: str, bodies: list[dict], clients: int) -> list[float]:
    times: list[float] = []
    lock = threading.Lock()
    queue = list(bodies)

    def worker() -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                t0 = time.perf_counter()
                r = http.post(url, json=body)
                took = time.perf_counter() - t0
                if r.status_code != 200:
                    raise SystemExit(f"{url}: {r.status_code} {r.text[:300]}")
                with lock:
                    times.append(took)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="kiln-fs-")
    home = os.path.join(tmp, "home")
    setup(home)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "MLFLOW_"))},
           "KILN_HOME": home, "KILN_USER": "bench@example.com"}
    token = json.loads(subprocess.run([KILN, "tokens", "create", "-w", "bench"], env=env,
                                      check=True, capture_output=True, text=True).stdout
                       )["token_value"]
    server, url = kiln_server(env, "-w", "bench")
    rng = np.random.default_rng(5)
    ids = rng.integers(0, CUSTOMERS, args.requests)
    feats = pd.read_parquet(os.path.join(home, "workspaces", "bench", "online",
                                         "main.fs.customers.parquet")).set_index("customer_id")
    bodies = {
        "lookup": [{"dataframe_records": [{"customer_id": int(i)}]} for i in ids],
        "plain": [{"dataframe_records": [{"age": int(feats.at[i, "age"]),
                                          "spend": float(feats.at[i, "spend"])}]} for i in ids]}
    results = {}
    try:
        for name in ("lookup", "plain"):
            endpoint = f"{url}/serving-endpoints/{name}/invocations"
            deadline = time.monotonic() + 120
            while True:  # until the endpoint has loaded its model
                r = httpx.post(endpoint, json=bodies[name][0], timeout=60,
                               headers={"Authorization": f"Bearer {token}"})
                if r.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            load(endpoint, token, bodies[name][:200], args.clients)  # warm-up
        for name in ("lookup", "plain"):
            endpoint = f"{url}/serving-endpoints/{name}/invocations"
            times = load(endpoint, token, bodies[name], args.clients)
            q = statistics.quantiles(times, n=100)
            results[name] = {"p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000,
                             "req_s": len(times) / sum(times) * args.clients}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    ratio = results["lookup"]["p99_ms"] / results["plain"]["p99_ms"]
    print(f"feature lookup at serving: {args.requests} requests x {args.clients} clients "
          f"({platform.node()}, {os.cpu_count()} cores)")
    for name, r in results.items():
        print(f"  {name:7} p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms  "
              f"~{r['req_s']:6.0f} req/s")
    print(f"  p99 ratio lookup/plain: {ratio:.2f} (goal <= 2)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({**results, "p99_ratio": ratio}, f)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(HERE))
    main()
