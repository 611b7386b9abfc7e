"""``kiln demo``: the whole lifecycle, end to end, on embedded workspaces in a temporary
directory. Every step is the real thing: the project comes from the mlops-stack template,
bundle commands and the endpoint run as ``kiln`` subprocesses, jobs run their notebooks,
and the model steps call the same code as ``kiln models ...``.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from typing import Any, Iterator

import click

from kiln.cli.render import echo
from kiln.errors import KilnError

STEPS = 15
DAY_1, DAY_2 = "2026-11-01", "2026-11-02"
PROD_MODEL = "prod.churn_demo.churn_model"  # prod's schema is the project's name


class Demo:
    def __init__(self, root: str, keep: bool) -> None:
        self.root = root
        self.keep = keep
        self.home = os.path.join(root, "home")
        self.project = ""
        self.step = 0
        self.started = time.monotonic()
        self.facts: dict[str, Any] = {"jobs": []}
        os.environ["KILN_HOME"] = self.home  # this process's workspaces, and its children's
        os.environ.setdefault("KILN_USER", "demo@kiln.local")

    # output ---------------------------------------------------------------------------
    @contextmanager
    def doing(self, what: str) -> Iterator[dict[str, str]]:
        self.step += 1
        note: dict[str, str] = {}
        prefix = f"[{self.step:2d}/{STEPS}] {what}"
        tty = sys.stdout.isatty()
        if tty:
            sys.stdout.write(prefix + " ...")
            sys.stdout.flush()
        t0 = time.monotonic()
        try:
            yield note
        except BaseException:
            sys.stdout.write(("\r" if tty else "") + prefix + " FAILED\n")
            raise
        took = time.monotonic() - t0
        detail = f": {note['result']}" if note.get("result") else ""
        sys.stdout.write(("\r" if tty else "") + f"{prefix}{detail} ({took:.1f} s)\n")
        sys.stdout.flush()

    # kiln as a user runs it ----------------------------------------------------------
    def kiln(self, *args: str, cwd: str | None = None) -> str:
        cmd = [sys.executable, "-m", "kiln", *args]
        out = subprocess.run(cmd, cwd=cwd or self.project, capture_output=True, text=True,
                             env=os.environ.copy())
        if out.returncode != 0:
            raise KilnError(f"'kiln {' '.join(args)}' failed (exit {out.returncode})",
                            detail=(out.stdout + out.stderr).strip()[-3000:])
        return out.stdout

    def run_job(self, job: str, *params: str) -> str:
        """Run a job of the project to its end; "run N STATE"."""
        self.kiln("bundle", "run", job, *(["--params", ",".join(params)] if params else []))
        run = self.workspace("dev").list_runs(self.job_ids[job], 1)[0]  # the one that ended
        run_id = str(run["run_id"])
        state = run["state"].get("result_state") or run["state"]["life_cycle_state"]
        self.facts["jobs"].append((job, run_id, state))
        return f"run {run_id} {state}"

    # the steps -------------------------------------------------------------------------
    def generate(self) -> None:
        with self.doing("Generate a project from the mlops-stack template") as note:
            config = os.path.join(self.root, "params.json")
            with open(config, "w") as f:
                json.dump({"project_name": "churn_demo", "include_feature_store": "no"}, f)
            self.kiln("bundle", "init", "mlops-stack", "--output-dir", self.root,
                      "--config-file", config, cwd=self.root)
            self.project = os.path.join(self.root, "churn_demo")
            note["result"] = f"{sum(len(f) for _, _, f in os.walk(self.project))} files"

    def validate_and_deploy(self) -> None:
        with self.doing("Validate the bundle for dev, test, staging and prod"):
            for target in ("dev", "test", "staging", "prod"):
                self.kiln("bundle", "validate", "-t", target)
        with self.doing("Deploy dev") as note:
            self.kiln("bundle", "deploy")
            summary = json.loads(self.kiln("bundle", "summary", "-o", "json"))
            res = summary["resources"]
            note["result"] = ", ".join(
                f"{len(v)} {k.replace('_', ' ')[:None if len(v) > 1 else -1]}"
                for k, v in sorted(res.items()) if v)
            self.job_ids = {key: int(job["id"]) for key, job in res["jobs"].items()}
            self.endpoint = res["model_serving_endpoints"]["endpoint"]["name"]
            schema = res["schemas"]["project_schema"]
            self.schema = f"{schema['catalog_name']}.{schema['name']}"  # per developer
            self.model = f"{self.schema}.{res['registered_models']['model']['name']}"

    def first_model(self) -> None:
        with self.doing("Generate data (5,000 customers and their transactions)") as note:
            note["result"] = self.run_job("data_job")
        with self.doing("Train, validate and deploy the first model") as note:
            self.run_job("model_training_job")
            note["result"] = f"{self.model} v1 is @champion"
        with self.doing("Batch inference with the champion") as note:
            self.run_job("batch_inference_job")
            n = self.sql(f"SELECT count(*) AS n, avg(prediction) AS p FROM "
                         f"{self.schema}.predictions")[0]
            note["result"] = f"{n['n']} predictions, {n['p']:.1%} predicted to churn"

    def serve(self) -> None:
        with self.doing("Start the endpoint (follows @champion)") as note:
            self.server = subprocess.Popen(
                [sys.executable, "-m", "kiln", "server", "--port", "0"], cwd=self.project,
                env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                text=True)
            self.server_log: collections.deque[str] = collections.deque(maxlen=200)
            threading.Thread(target=lambda: self.server_log.extend(self.server.stderr),
                             daemon=True).start()  # a full pipe would stall the server
            self.url = self.announced(self.server, deadline=time.monotonic() + 120)
            token = json.loads(self.kiln("tokens", "create"))["token_value"]
            self.token = token
            note["result"] = f"{self.endpoint} on {self.url}"
        with self.doing("Send day-1 traffic (600 of the customers it was trained on)") as note:
            latencies = self.traffic(DAY_1, first_id=1)
            note["result"] = _latency_text(latencies)
        with self.doing("Shift the population: 5,000 new customers arrive (drift 1.0)") as note:
            self.run_job("data_job", "drift=1.0", "seed=8", f"as_of={DAY_2}",
                         "first_id=100001", "write_mode=append")
            note["result"] = "appended to the customers and transactions tables"
        with self.doing("Send day-2 traffic (600 of the new customers)") as note:
            day_2 = self.traffic(DAY_2, first_id=100_001)
            note["result"] = _latency_text(day_2)
            self.facts["latency"] = latencies + day_2
        self.server.send_signal(signal.SIGTERM)  # flushes the inference tables
        if self.server.wait(timeout=60) != 0:
            raise KilnError("the endpoint did not stop cleanly",
                            detail="".join(self.server_log)[-2000:])

    def traffic(self, day: str, first_id: int) -> list[float]:
        """Requests of 20 rows each, with the day's event times: the features of 600
        customers from the tables (ids from ``first_id``), as a client would look them up."""
        import numpy as np

        from kiln.catalog.tables import Catalog

        sys.path.insert(0, self.project)
        from churn_demo.features import FEATURES, customer_features  # the project's code

        catalog = Catalog(self.workspace("dev"))
        customers = catalog.read(f"{self.schema}.customers")
        customers = customers[customers.customer_id.between(first_id, first_id + 599)]
        frame = customer_features(customers, catalog.read(f"{self.schema}.transactions"))
        rng = np.random.default_rng(first_id)
        latencies = []
        for start in range(0, len(frame), 20):
            part = frame.iloc[start:start + 20]
            records = [{**{k: _plain(r[k]) for k in ["customer_id", *FEATURES]},
                        "event_time": f"{day}T{int(h):02d}:{int(m):02d}:00Z"}
                       for r, h, m in zip(part.to_dict("records"), rng.integers(0, 24, len(part)),
                                          rng.integers(0, 60, len(part)))]
            body = json.dumps({"dataframe_records": records}).encode()
            req = urllib.request.Request(
                f"{self.url}/serving-endpoints/{self.endpoint}/invocations", data=body,
                headers={"Authorization": f"Bearer {self.token}",
                         "Content-Type": "application/json"})
            t0 = time.perf_counter()
            with urllib.request.urlopen(req, timeout=30) as r:
                r.read()
            latencies.append(1000 * (time.perf_counter() - t0))
        return latencies

    def monitor_and_retrain(self) -> None:
        from kiln.monitoring.monitor import Monitors

        ws = self.workspace("dev")
        table = f"{self.schema}.inference_payload_unpacked"
        with self.doing("Refresh the quality monitor on the inference table") as note:
            info = Monitors(ws).refresh(table)
            drifted = sorted({c for a in info.alerts for c in a["columns"]})
            self.facts["drift"] = drifted
            runs = [str(a["run_id"]) for a in info.alerts if "run_id" in a]
            if not runs:
                raise KilnError("the monitor found no drift to alert on",
                                detail=json.dumps(info.alerts))
            note["result"] = (f"{info.windows_computed} windows; drift in "
                              f"{', '.join(drifted)}; the alert started run {runs[0]}")
        with self.doing("Wait for the retraining run the alert started") as note:
            run = self.wait_run(runs[0])
            self.facts["jobs"].append(("model_training_job (alert)", runs[0],
                                       run["state"]["result_state"]))
            if run["state"]["result_state"] != "SUCCESS":
                raise KilnError(f"retraining run {runs[0]} ended "
                                f"{run['state']['result_state']}")
            note["result"] = f"{self.model} v2 passed validation and is @challenger"

    def replay_and_promote(self) -> None:
        from kiln.models import approvals
        from kiln.models.promotion import promote
        from kiln.models.registry import Registry
        from kiln.serving import replay

        reg = Registry(self.workspace("dev"))
        with self.doing("Replay the captured traffic against the challenger") as note:
            approvals.set_rule(reg.ws, 0.8)  # approvals need agreement (or labels) first
            report = replay.replay(reg, self.model, "@challenger", self.endpoint,
                                   labels=f"{self.schema}.customers", label_col="churned",
                                   key="customer_id")
            q = report.quality
            note["result"] = (f"agreement {report.agreement:.2f} over {report.rows} rows; "
                              f"accuracy {q['candidate']['accuracy']:.3f} vs served "
                              f"{q['served']['accuracy']:.3f} on {q['labelled_rows']} "
                              "labelled rows")
            self.facts["replay"] = report
        with self.doing("Approve the challenger and make it the dev champion") as note:
            from kiln.models.lifecycle import deploy

            approvals.request(reg, self.model, "@challenger", "replayed on live traffic")
            approvals.decide(reg, self.model, "@challenger", True,
                             "replay: quality not worse than the champion's")
            version = reg.resolve(self.model, alias="challenger").version
            deploy(self.model, version, reason="approved after replay", registry=reg)
            note["result"] = f"v{version} approved and @champion"
        with self.doing("Deploy prod and promote the model there") as note:
            self.kiln("bundle", "deploy", "-t", "prod", "--auto-approve")
            prod = Registry(self.workspace("prod"))
            prod.set_required_approvals({"champion"})
            mv = promote(reg, prod, self.model, "@champion",
                         to_name=PROD_MODEL, alias="champion",
                         comment="demo: approved in dev after replay")
            note["result"] = f"{mv.name} v{mv.version} @champion (approval carried over)"

    # helpers ---------------------------------------------------------------------------
    def announced(self, server: subprocess.Popen[str], deadline: float) -> str:
        """The URL the server announced in its workspace once it listens."""
        from kiln.cli.serving import SERVER_SETTING

        ws = self.workspace("dev")
        while True:
            raw = ws.get_setting(SERVER_SETTING)
            doc = json.loads(raw) if raw else {}
            if doc.get("pid") == server.pid:
                return str(doc["url"])
            if server.poll() is not None or time.monotonic() > deadline:
                raise KilnError("the endpoint did not start",
                                detail="".join(self.server_log)[-2000:])
            time.sleep(0.1)

    def workspace(self, target: str) -> Any:
        """The target's embedded workspace (named after the target, in KILN_HOME)."""
        from kiln.cli.workspaces import open_where

        return open_where(None, target)

    def sql(self, query: str) -> list[dict[str, Any]]:
        return json.loads(self.kiln("sql", query, "-o", "json"))

    def wait_run(self, run_id: str, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = json.loads(self.kiln("runs", "get", run_id))
            if run["state"].get("result_state"):
                return run
            time.sleep(1)
        raise KilnError(f"run {run_id} did not finish in {timeout:.0f} s")

    def summary(self) -> None:
        from kiln.models import approvals
        from kiln.models.registry import Registry

        echo("")
        echo(f"Lifecycle done in {time.monotonic() - self.started:.0f} s")
        echo("")
        echo("Jobs run (dev)")
        for job, run_id, state in self.facts["jobs"]:
            echo(f"  {job:32} run {run_id:>3}  {state}")
        echo("")
        echo("Model versions and aliases")
        for target, name in (("dev", self.model), ("prod", PROD_MODEL)):
            reg = Registry(self.workspace(target))
            aliases = reg.model(name).aliases or {}
            for mv in reg.versions(name):
                held = sorted(a for a, v in aliases.items() if str(v) == str(mv.version))
                echo(f"  {target:5} {name:30} v{mv.version}  "
                     f"{' '.join('@' + a for a in held) or '-':22} "
                     f"approval: {approvals.status(mv) or '-'}")
        echo("")
        lat = self.facts["latency"]
        echo(f"Endpoint {self.endpoint} (requests of 20 rows): " + _latency_text(lat))
        echo(f"Drift found (PSI >= 0.2 against the training data): "
             f"{', '.join(self.facts['drift'])}")
        report = self.facts["replay"]
        worst = report.worst_slices[0] if report.worst_slices else None
        echo(f"Replay: agreement {report.agreement:.2f}"
             + (f"; most disagreement where {worst.column} = {worst.value} "
                f"({worst.agreement:.2f})" if worst else ""))
        if self.keep:
            echo(f"Kept {self.root}: cd {self.project} && KILN_HOME={self.home} kiln ...")


def _latency_text(ms: list[float]) -> str:
    import numpy as np

    return (f"p50 {np.quantile(ms, 0.5):.1f} ms, p99 {np.quantile(ms, 0.99):.1f} ms "
            f"over {len(ms)} requests")


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


@click.command(name="demo")
@click.option("--keep", is_flag=True, help="Keep the project and workspaces afterwards.")
def demo_cmd(keep: bool) -> None:
    """Run the whole lifecycle on embedded workspaces in a temporary directory: project
    from the template, deploy, data, training, batch inference, serving, drift, retraining,
    replay, approval, promotion to prod."""
    root = tempfile.mkdtemp(prefix="kiln-demo-")
    demo = Demo(root, keep)
    try:
        demo.generate()
        demo.validate_and_deploy()
        demo.first_model()
        demo.serve()
        demo.monitor_and_retrain()
        demo.replay_and_promote()
        demo.summary()
    finally:
        server = getattr(demo, "server", None)
        if server is not None and server.poll() is None:
            server.kill()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
