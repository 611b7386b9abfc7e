"""Serving end to end: a real `kiln server` process on 127.0.0.1 serving registered models
from a deployed bundle, with capture into Delta inference tables."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.conftest import kiln_exe, write_files
from tests.e2e.helpers import Kiln

pytestmark = pytest.mark.e2e

BUNDLE = """
bundle: {name: serve}
resources:
  schemas:
    ml: {name: ml, catalog_name: main}
  jobs:
    train:
      name: train
      parameters: [{name: kind, default: lr}]
      tasks: [{task_key: t, notebook_task: {notebook_path: ./train.py}}]
  model_serving_endpoints:
    live:
      name: churn-live
      config:
        served_entities:
          - {name: champion, entity_name: main.ml.churn, entity_alias: champion,
             workload_size: Small}
        auto_capture_config: {catalog_name: main, schema_name: ml, table_name_prefix: live}
    canary:
      name: churn-canary
      config:
        served_entities:
          - {name: stable, entity_name: main.ml.churn, entity_version: "1"}
          - {name: canary, entity_name: main.ml.churn, entity_version: "2"}
        traffic_config:
          routes:
            - {served_entity_name: stable, traffic_percentage: 90}
            - {served_entity_name: canary, traffic_percentage: 10}
    guarded:
      name: churn-guarded
      permissions: [{level: CAN_QUERY, user_name: carol@example.com}]
      rate_limits: [{calls: 5, key: user, renewal_period: minute}]
      config:
        served_entities: [{entity_name: main.ml.churn, entity_version: "1"}]
"""

TRAIN = """# Databricks notebook source
import mlflow, numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
rng = np.random.default_rng(0)
X = pd.DataFrame({f"f{i}": rng.normal(size=300) for i in range(3)})
y = (X.f0 + X.f1 > 0).astype(int)
if dbutils.widgets.get("kind") == "flipped":
    y = 1 - y
with mlflow.start_run():
    info = mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model",
                                    input_example=X.head(2), pip_requirements=["scikit-learn"],
                                    registered_model_name="main.ml.churn")
if info.registered_model_version == 1:
    mlflow.MlflowClient().set_registered_model_alias("main.ml.churn", "champion", 1)
"""

ROW = {"f0": 1.0, "f1": 1.0, "f2": 0.0}  # v1 says 1, the flipped v2 says 0


class Server:
    """``kiln server --port 0`` (and ``args``) in ``root``, once it serves: its ``url``."""

    def __init__(self, kiln: Kiln, root: Path, *args: str) -> None:
        self.proc = subprocess.Popen([kiln_exe(), "server", "--port", "0", *args], cwd=root,
                                     env=kiln.env(), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = ""
        deadline = time.monotonic() + 120
        while "Serving on" not in line:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the server did not start: " + self.proc.stderr.read())
        self.url = re.search(r"http://\S+", line).group(0)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


def token(kiln: Kiln, root: Path, user: str | None = None) -> str:
    args = ["tokens", "create"] + (["--user", user] if user else [])
    return json.loads(kiln.run(*args, cwd=root).stdout)["token_value"]


def setup(kiln: Kiln, tmp_path: Path) -> Path:
    root = write_files(tmp_path / "b", {"databricks.yml": BUNDLE, "train.py": TRAIN})
    kiln.run("bundle", "deploy", cwd=root)
    kiln.run("bundle", "run", "train", cwd=root)
    kiln.run("bundle", "run", "train", "--params", "kind=flipped", cwd=root)
    return root


def test_serving_endpoints_end_to_end(tmp_path: Path) -> None:
    kiln = Kiln(tmp_path / "home")
    root = setup(kiln, tmp_path)
    server = Server(kiln, root)
    auth = {"Authorization": f"Bearer {token(kiln, root)}"}
    live = f"{server.url}/serving-endpoints/churn-live/invocations"
    ok_responses = 0
    with httpx.Client(headers=auth, timeout=30) as http:
        # the four MLflow input formats
        bodies = [{"dataframe_split": {"columns": list(ROW), "data": [list(ROW.values())]}},
                  {"dataframe_records": [ROW]},
                  {"instances": [list(ROW.values())]},
                  {"inputs": {k: [v] for k, v in ROW.items()}, "params": {}}]
        for body in bodies:
            r = http.post(live, json=body)
            assert r.status_code == 200 and r.json() == {"predictions": [1]}, r.text
            ok_responses += 1
        # client mistakes are 400/413 with a message, never 500
        for body, status, words in [
            (b"{not json", 400, "not valid JSON"),
            (b'{"dataframe_records": [{"f0": 1}]}', 400, "missing input columns: f1, f2"),
            (b'{"instances": [[1, 2]]}', 400, "each row needs 3 values"),
            (b'{"dataframe_records": [{"f0": "x", "f1": 1, "f2": 1}]}', 400, "column types"),
            (b'{"rows": []}', 400, "none of dataframe_split"),
            (b"{" + b" " * (17 * 1024 * 1024) + b"}", 413, "limit"),
        ]:
            r = http.post(live, content=body)
            assert r.status_code == status and words in r.json()["message"], r.text

        # move the champion alias under continuous load: nothing fails, answers switch
        results: list[tuple[int, str]] = []
        stop = threading.Event()

        def load() -> None:
            with httpx.Client(headers=auth, timeout=30) as c:
                while not stop.is_set():
                    r = c.post(live, json={"dataframe_records": [ROW]})
                    results.append((r.status_code, r.headers.get("x-served-entity", "")))

        workers = [threading.Thread(target=load) for _ in range(4)]
        for w in workers:
            w.start()
        time.sleep(1.0)
        kiln.run("models", "set-alias", "main.ml.churn", "champion", "2", cwd=root)
        deadline = time.monotonic() + 30
        while not results or not results[-1][1].endswith("/2"):
            assert time.monotonic() < deadline, "the endpoint never served version 2"
            time.sleep(0.1)
        time.sleep(1.0)
        stop.set()
        for w in workers:
            w.join()
        statuses = Counter(s for s, _ in results)
        assert set(statuses) == {200}, statuses
        versions = [e.rsplit("/", 1)[1] for _, e in results]
        switch = versions.index("2")
        assert set(versions[:switch]) == {"1"} and "1" not in versions[switch + 50:]
        ok_responses += len(results)
        assert http.post(live, json={"dataframe_records": [ROW]}).json() == \
            {"predictions": [0]}
        ok_responses += 1

        # a 90/10 split over 2,000 requests; a client_request_id sticks to one version
        canary = f"{server.url}/serving-endpoints/churn-canary/invocations"
        seen = Counter(http.post(canary, json={"dataframe_records": [ROW]})
                       .headers["x-served-entity"].split(":")[0] for _ in range(2000))
        assert abs(seen["canary"] - 200) < 60 and seen["stable"] + seen["canary"] == 2000
        sticky = {http.post(canary, json={"dataframe_records": [ROW],
                                          "client_request_id": "customer-42"})
                  .headers["x-served-entity"] for _ in range(30)}
        assert len(sticky) == 1

        metrics = http.get(f"{server.url}/metrics").text
        assert 'kiln_serving_requests_total{endpoint="churn-canary",served_entity="canary",' \
               'status="200"}' in metrics
        assert "kiln_serving_request_latency_seconds_bucket" in metrics
        assert http.get(f"{server.url}/ready").status_code == 200

    # graceful stop: every answered request of the live endpoint is in its table once
    assert server.stop() == 0
    rows = kiln.sql("SELECT status_code, count(*) AS n, "
                    "count(DISTINCT databricks_request_id) AS d "
                    "FROM main.ml.live_payload GROUP BY 1 ORDER BY 1", cwd=root)
    by_status = {r["status_code"]: r for r in rows}
    assert by_status[200]["n"] == by_status[200]["d"] == ok_responses
    assert by_status[400]["n"] == 5 and by_status[413]["n"] == 1  # recorded without the body
    unpacked = kiln.sql("SELECT count(*) AS n, count(DISTINCT model_id) AS m"
                        " FROM main.ml.live_payload_unpacked", cwd=root)
    assert unpacked == [{"n": ok_responses, "m": 2}]
    state = json.loads(kiln.run("serving-endpoints", "get", "churn-live", cwd=root).stdout)
    assert state["served_entities"][0]["entity_version"] == "2"


def test_serving_security_and_failed_updates(tmp_path: Path) -> None:
    kiln = Kiln(tmp_path / "home")
    root = setup(kiln, tmp_path)
    server = Server(kiln, root)
    guarded = f"{server.url}/serving-endpoints/churn-guarded/invocations"
    body = {"dataframe_records": [ROW]}
    try:
        assert httpx.post(guarded, json=body).status_code == 401
        bad = httpx.post(guarded, json=body, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and bad.json()["error_code"] == "UNAUTHENTICATED"
        mallory = {"Authorization": f"Bearer {token(kiln, root, 'mallory@example.com')}"}
        denied = httpx.post(guarded, json=body, headers=mallory)
        assert denied.status_code == 403 and "mallory@example.com may not query" in denied.text
        carol = {"Authorization": f"Bearer {token(kiln, root, 'carol@example.com')}"}
        if time.time() % 60 > 50:  # the limit counts in fixed minutes: stay inside one
            time.sleep(61 - time.time() % 60)
        codes = [httpx.post(guarded, json=body, headers=carol).status_code for _ in range(7)]
        assert codes == [200] * 5 + [429] * 2
        # a config whose version cannot load leaves the old one serving, and says why
        kiln.run("serving-endpoints", "update-config", "churn-canary", "--json", json.dumps(
            {"served_entities": [{"name": "stable", "entity_name": "main.ml.churn",
                                  "entity_version": "7"}],
             "traffic_config": {"routes": [{"served_entity_name": "stable",
                                            "traffic_percentage": 100}]}}), cwd=root)
        deadline = time.monotonic() + 30
        while True:
            state = json.loads(kiln.run("serving-endpoints", "get", "churn-canary",
                                        cwd=root).stdout)
            if state["state"]["config_update"] == "UPDATE_FAILED":
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.3)
        assert "version 7" in state["message"] or "main.ml.churn/7" in state["message"]
        r = httpx.post(f"{server.url}/serving-endpoints/churn-canary/invocations", json=body,
                       headers=carol)
        assert r.status_code == 200 and r.headers["x-served-entity"].split(":")[0] in \
            ("stable", "canary")
        refused = kiln.run("serving-endpoints", "update-config", "churn-canary", "--json",
                           '{"traffic_config": {"routes": [{"served_entity_name": "stable", '
                           '"traffic_percentage": 60}]}}', cwd=root, ok=False)
        assert refused.returncode == 1 and "add up to 60%, not 100%" in refused.stderr
    finally:
        assert server.stop() == 0


def test_changing_request_shapes_lose_no_row(tmp_path: Path) -> None:
    """Requests whose columns come and go, under load, then a column that changes type:
    every request is in the payload table, every scored row in the unpacked table or,
    when its columns cannot be merged, in the quarantine table; nothing is dropped."""
    kiln = Kiln(tmp_path / "home")
    root = setup(kiln, tmp_path)
    server = Server(kiln, root)
    live = f"{server.url}/serving-endpoints/churn-live/invocations"
    auth = {"Authorization": f"Bearer {token(kiln, root)}"}
    shapes = [ROW, {**ROW, "event_time": "2026-11-01T00:00:00Z", "customer_id": 7},
              {**ROW, "event_time": "2026-11-02T00:00:00Z"}, {**ROW, "customer_id": 8}]
    sent = {"merged": 0, "quarantined": 0}

    def send(rows: list[dict], kind: str) -> None:
        with httpx.Client(headers=auth, timeout=30) as http:
            for row in rows:
                assert http.post(live, json={"dataframe_records": [row]}).status_code == 200
                sent[kind] += 1  # one row per request

    def count(table: str) -> int:
        proc = kiln.run("sql", f"SELECT count(*) AS n FROM {table}", "-o", "json", cwd=root,
                        ok=False)
        return json.loads(proc.stdout)[0]["n"] if proc.returncode == 0 else 0

    try:
        # 1. shapes come and go, eight clients at once: new columns are added, missing null
        workers = [threading.Thread(target=send, args=([shapes[(i + j) % 4] for j in range(60)],
                                                        "merged")) for i in range(8)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        deadline = time.monotonic() + 30
        while count("main.ml.live_payload_unpacked") < sent["merged"]:
            assert time.monotonic() < deadline
            time.sleep(0.5)
        # 2. customer_id now arrives as text: those rows cannot join the integer column
        send([{**ROW, "customer_id": f"c-{i}"} for i in range(20)], "quarantined")
        with httpx.Client(headers=auth) as http:
            deadline = time.monotonic() + 30
            while 'kiln_inference_capture_quarantined_total{endpoint="churn-live"} 20.0' \
                    not in http.get(f"{server.url}/metrics").text:
                assert time.monotonic() < deadline
                time.sleep(0.5)
            metrics = http.get(f"{server.url}/metrics").text
        assert 'kiln_inference_capture_dropped_total{endpoint="churn-live"}' not in metrics \
            or 'kiln_inference_capture_dropped_total{endpoint="churn-live"} 0.0' in metrics
    finally:
        assert server.stop() == 0
    total = sent["merged"] + sent["quarantined"]
    assert count("main.ml.live_payload") == total
    assert count("main.ml.live_payload_unpacked") == sent["merged"] == 480
    assert count("main.ml.live_payload_quarantine") == sent["quarantined"] == 20
    got = kiln.sql("SELECT count(event_time) AS e, count(customer_id) AS c, "
                   "count(*) AS n FROM main.ml.live_payload_unpacked", cwd=root)[0]
    assert got == {"e": 240, "c": 240, "n": 480}
    reason = kiln.sql("SELECT DISTINCT reason FROM main.ml.live_payload_quarantine",
                      cwd=root)
    assert len(reason) == 1 and "customer_id" in reason[0]["reason"], reason


def test_a_busy_port_is_named_before_anything_loads(tmp_path: Path) -> None:
    import socket

    kiln = Kiln(tmp_path / "home")
    root = write_files(tmp_path / "b", {"databricks.yml": "bundle: {name: busy}\n"})
    kiln.run("bundle", "deploy", cwd=root)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        proc = kiln.run("server", "--port", str(port), cwd=root, ok=False, timeout=60)
    finally:
        busy.close()
    assert proc.returncode == 1
    assert f"Error: cannot serve on 127.0.0.1:{port}: Address already in use" in proc.stderr \
        + proc.stdout
    assert "internal error" not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
