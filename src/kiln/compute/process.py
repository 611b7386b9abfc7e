"""The compute server process: ``python -m kiln.compute.process WORKSPACE_DIR [--explicit]``.

Serves the workspace's catalog to the engine (``kiln.compute.glue``), starts the embedded
Sail Spark Connect server on 127.0.0.1 with one catalog per kiln catalog, writes
``state.json`` once it listens, and stops when ``kiln.compute.cluster``'s rules say so:
no live client and no live anchor, no client and the workspace's catalogs changed, or no
client for the idle timeout
(``KILN_COMPUTE_IDLE_TIMEOUT``, seconds, default 600). Started with ``--explicit``
(``kiln clusters start``) only the idle timeout applies.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

from kiln.compute import cluster

# the engine's Glue client needs a region and credentials; nothing checks them
_AWS = {"AWS_ACCESS_KEY_ID": "kiln", "AWS_SECRET_ACCESS_KEY": "kiln", "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


def catalog_list(catalogs: list[str], endpoint: str) -> str:
    """Sail's ``catalog.list``: a Glue catalog per kiln catalog, or one in-memory catalog
    for a workspace that has none yet."""
    if not catalogs:
        return '[{type="memory", name="spark_catalog", initial_database=["default"]}]'
    return "[" + ", ".join(
        f'{{type="glue", name="{c}", catalog_id="{c}", region="us-east-1", '
        f'endpoint_url="{endpoint}"}}' for c in catalogs) + "]"


def main(argv: list[str]) -> int:
    workspace_dir = os.path.abspath(argv[0])
    explicit = "--explicit" in argv[1:]
    user = argv[argv.index("--user") + 1] if "--user" in argv[1:] else None
    idle_timeout = float(os.environ.get("KILN_COMPUTE_IDLE_TIMEOUT") or 600)

    from kiln.catalog import Catalog
    from kiln.compute.glue import GlueCatalog, serve
    from kiln.models.store import ensure_store, mlflow_env
    from kiln.session import workspace_at

    ws = workspace_at(workspace_dir, user or "kiln")
    # a user's own compute: its catalog acts as the user, whose grants hold for Spark;
    # the shared compute of a workspace without admins checks nothing (nothing is enforced)
    catalog = Catalog(ws, check=user is not None)
    catalogs = catalog.catalog_names(check=False)  # all named: a lookup reaches the catalog,
    # which says which privilege is missing
    glue = serve(GlueCatalog(catalog))
    endpoint = f"http://127.0.0.1:{glue.server_address[1]}"
    # Python UDFs (mlflow.pyfunc.spark_udf among them) run in this process: they see the
    # workspace's MLflow stores as task code does
    os.environ.update(_AWS)
    ensure_store(workspace_dir)
    os.environ.update(mlflow_env(workspace_dir))
    os.environ["KILN_WORKSPACE_DIR"] = workspace_dir
    os.environ["SAIL_CATALOG__LIST"] = catalog_list(catalogs, endpoint)
    os.environ["SAIL_CATALOG__DEFAULT_CATALOG"] = catalogs[0] if catalogs else "spark_catalog"

    from pysail.spark import SparkConnectServer

    server = SparkConnectServer("127.0.0.1", 0)
    server.start(background=True)
    host, port = server.listening_address
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    d = cluster.compute_dir(workspace_dir, user)
    state = {"pid": os.getpid(), "url": f"sc://{host}:{port}", "catalogs": catalogs,
             "catalog_endpoint": endpoint, "started_at": int(time.time() * 1000),
             "explicit": explicit}
    tmp = os.path.join(d, f".state.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f)
    os.replace(tmp, os.path.join(d, "state.json"))
    print(f"kiln compute: Spark Connect on {state['url']}, catalogs "
          f"{', '.join(catalogs) or '(none)'}", flush=True)

    anchors: set[int] = set()
    last_busy = time.monotonic()
    reason = "stopped"
    while not stopping:
        time.sleep(0.2)
        clients = cluster.live_clients(workspace_dir, user)
        anchors |= set(clients.values())
        anchors = {a for a in anchors if cluster.alive(a)}
        if clients:
            last_busy = time.monotonic()
        elif not explicit and not anchors and (time.monotonic() - last_busy) > 1.0:
            reason = "no kiln process uses it any more"
            break
        elif catalog.catalog_names(check=False) != catalogs:
            reason = "the workspace's catalogs changed; the next task starts a new server"
            break
        elif time.monotonic() - last_busy > idle_timeout:
            reason = f"idle for {idle_timeout:g} s"
            break
    print(f"kiln compute: stopping ({reason})", flush=True)
    try:
        with open(os.path.join(d, "state.json"), encoding="utf-8") as f:
            mine = json.load(f).get("pid") == os.getpid()
        if mine:
            os.remove(os.path.join(d, "state.json"))
    except (OSError, ValueError):
        pass
    server.stop()
    glue.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
