"""Serve the model of `../shared/tools/serving_bench.py` from kiln, for that harness's
`--kiln-url` (its table is the one docs/benchmarks.md records).

    .venv/bin/python benchmarks/serving_bench_kiln.py WORKDIR PORT

WORKDIR is the harness's `--workdir` after its model was trained there (`model.json`). A
kiln workspace under WORKDIR/kiln-home gets the model registered as `main.ml.churn`
(`@champion`), an endpoint `churn` following it with its inference table on, and a token;
the script prints `TOKEN <value>`, then serves on 127.0.0.1:PORT until stopped (SIGTERM).
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    workdir, port = sys.argv[1], int(sys.argv[2])
    with open(os.path.join(workdir, "model.json")) as f:
        model = json.load(f)
    home = os.path.join(workdir, "kiln-home")
    os.environ.update({"KILN_HOME": home, "KILN_USER": "bench@example.com"})
    import mlflow
    from bench_serving import create_endpoint

    from kiln.models.store import ensure_store, mlflow_env
    from kiln.serving.server import serve
    from kiln.workspace.local.home import WorkspaceHome

    ws = WorkspaceHome(home).open("bench", "bench@example.com")
    env = mlflow_env(ws.local_root())
    ensure_store(ws.local_root())
    os.environ.update(env)
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    mlflow.set_registry_uri(env["MLFLOW_REGISTRY_URI"])
    client = mlflow.MlflowClient()
    try:
        client.get_registered_model("main.ml.churn")
    except mlflow.exceptions.MlflowException:
        mv = mlflow.register_model(model["model_path"], "main.ml.churn")
        client.set_registered_model_alias("main.ml.churn", "champion", mv.version)
        create_endpoint(ws, "churn", "main.ml.churn")
    print("TOKEN", ws.create_token("bench@example.com", "serving_bench")[1], flush=True)
    serve(ws, "127.0.0.1", port, announce=lambda url: print("Serving on", url, flush=True))


if __name__ == "__main__":
    main()
