"""Running deployed jobs for real: notebooks and Python files in their own processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import NOTEBOOK_HEADER as NB, kiln_exe, live_processes, write_files
from tests.e2e.helpers import Kiln, wheel_package

pytestmark = pytest.mark.e2e

PIPELINE = {
    "databricks.yml": """
bundle: {name: runs}
resources:
  jobs:
    train:
      name: train
      parameters: [{name: min_auc, default: "0.8"}]
      tasks:
        - task_key: train
          notebook_task: {notebook_path: ./nb/train.py, base_parameters: {rows: "500"}}
        - task_key: good_enough
          depends_on: [{task_key: train}]
          condition_task:
            op: GREATER_THAN_OR_EQUAL
            left: "{{tasks.train.values.auc}}"
            right: "{{job.parameters.min_auc}}"
        - task_key: promote
          depends_on: [{task_key: good_enough, outcome: "true"}]
          run_job_task:
            job_id: ${resources.jobs.promote.id}
            job_parameters: {model_uri: "{{tasks.train.values.model_uri}}"}
        - task_key: alert
          depends_on: [{task_key: good_enough, outcome: "false"}]
          spark_python_task: {python_file: ./nb/alert.py}
    promote:
      name: promote
      parameters: [{name: model_uri, default: ""}]
      tasks:
        - task_key: promote
          spark_python_task: {python_file: ./nb/promote.py, parameters: ["{{job.parameters.model_uri}}"]}
""",
    "nb/train.py": NB + """# MAGIC %md
# MAGIC # Train

# COMMAND ----------

dbutils.widgets.text("rows", "10")
rows = int(dbutils.widgets.get("rows"))
auc = 0.85 if float(dbutils.widgets.get("min_auc")) < 1 else 0.0
print(f"trained on {rows} rows, auc {auc}")
dbutils.jobs.taskValues.set("auc", auc)
dbutils.jobs.taskValues.set("model_uri", "models:/main.ml.churn/3")

# COMMAND ----------

dbutils.notebook.exit(json.dumps({"rows": rows})) if False else None
import json
dbutils.notebook.exit(json.dumps({"rows": rows}))
print("never printed")
""",
    "nb/alert.py": "print('auc too low')\n",
    "nb/promote.py": "import sys\nprint('promoting', sys.argv[1])\n",
}


@pytest.fixture
def kiln(tmp_path: Path) -> Kiln:
    return Kiln(tmp_path / "home")


def deploy(kiln: Kiln, root: Path) -> None:
    kiln.run("bundle", "deploy", cwd=root)


def wait_until_running(kiln: Kiln, root: Path) -> None:
    for _ in range(150):
        time.sleep(0.1)
        if "RUNNING" in kiln.run("runs", "list", cwd=root).stdout:
            return
    raise AssertionError("the run never started")


def test_task_values_flow_through_a_condition_into_a_run_job_task(kiln: Kiln, tmp_path: Path) -> None:
    root = write_files(tmp_path / "b", PIPELINE)
    deploy(kiln, root)
    out = kiln.run("bundle", "run", "train", cwd=root).stdout
    assert out.splitlines()[0] == "Run URL: kiln://default/runs/1"
    assert "[alert] EXCLUDED" in out and "[promote] SUCCESS" in out
    assert out.strip().endswith("Run 1 SUCCESS")
    runs = kiln.run("runs", "list", cwd=root).stdout
    assert "promote" in runs and "train" in runs
    child = json.loads(kiln.run("runs", "get", "2", cwd=root).stdout)
    assert child["job_parameters"] == [{"name": "model_uri", "value": "models:/main.ml.churn/3"}]
    logs = kiln.run("runs", "logs", "2", cwd=root).stdout
    assert "promoting models:/main.ml.churn/3" in logs
    output = json.loads(kiln.run("runs", "get-output", "1", "--task", "train", cwd=root).stdout)
    assert output["notebook_output"] == {"result": '{"rows": 500}'}
    assert "trained on 500 rows, auc 0.85" in output["logs"]
    assert "never printed" not in output["logs"]

    # a higher bar flips the condition: the other branch runs
    out = kiln.run("bundle", "run", "train", "--params", "min_auc=0.99", cwd=root, ok=False)
    assert "[promote] EXCLUDED" in out.stdout and "[alert] SUCCESS" in out.stdout
    assert out.returncode == 0


def test_failures_retries_timeouts_and_run_if(kiln: Kiln, tmp_path: Path) -> None:
    root = write_files(tmp_path / "b", {
        "databricks.yml": """
bundle: {name: f}
resources:
  jobs:
    flaky:
      name: flaky
      tasks:
        - task_key: boom
          max_retries: 2
          min_retry_interval_millis: 10
          notebook_task: {notebook_path: ./boom.py}
        - task_key: slow
          timeout_seconds: 1
          spark_python_task: {python_file: ./slow.py}
        - task_key: after
          depends_on: [{task_key: boom}]
          spark_python_task: {python_file: ./ok.py}
        - task_key: cleanup
          depends_on: [{task_key: boom}, {task_key: slow}]
          run_if: ALL_DONE
          spark_python_task: {python_file: ./ok.py}
        - task_key: on_failure
          depends_on: [{task_key: slow}]
          run_if: AT_LEAST_ONE_FAILED
          spark_python_task: {python_file: ./ok.py}
""",
        "boom.py": NB + "x = 1\n\n# COMMAND ----------\n\ny = 1 / 0\n",
        "slow.py": "import subprocess, time\nsubprocess.Popen(['sleep', '61.25'])\ntime.sleep(60)\n",
        "ok.py": "print('ok')\n",
    })
    deploy(kiln, root)
    t0 = time.monotonic()
    proc = kiln.run("bundle", "run", "flaky", cwd=root, ok=False)
    assert time.monotonic() - t0 < 30
    assert proc.returncode == 1
    assert "Run 1 FAILED" in proc.stdout
    assert "boom: ZeroDivisionError: division by zero" in proc.stdout
    run = json.loads(kiln.run("runs", "get", "1", cwd=root).stdout)
    tasks = {t["task_key"]: t for t in run["tasks"]}
    assert tasks["boom"]["state"]["result_state"] == "FAILED"
    assert tasks["boom"]["attempt_number"] == 2
    assert "boom.py, cell 2" in tasks["boom"]["error_trace"]
    assert 'line 6' in tasks["boom"]["error_trace"]  # the line in the notebook file
    assert tasks["slow"]["state"]["result_state"] == "TIMEDOUT"
    assert tasks["after"]["state"]["result_state"] == "UPSTREAM_FAILED"
    assert tasks["cleanup"]["state"]["result_state"] == "SUCCESS"
    assert tasks["on_failure"]["state"]["result_state"] == "SUCCESS"
    # the timed-out task's whole process tree is gone
    assert live_processes("sleep 61.25") == []


def test_a_killed_runner_leaves_no_run_running(kiln: Kiln, tmp_path: Path) -> None:
    root = write_files(tmp_path / "b", {
        "databricks.yml": "bundle: {name: k}\nresources:\n  jobs:\n    long:\n      name: long\n"
                          "      tasks:\n        - task_key: wait\n"
                          "          spark_python_task: {python_file: ./wait.py}\n",
        "wait.py": "import subprocess, time\nsubprocess.Popen(['sleep', '62.75'])\ntime.sleep(60)\n",
    })
    deploy(kiln, root)
    proc = kiln.popen("bundle", "run", "long", cwd=root)
    wait_until_running(kiln, root)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    run = json.loads(kiln.run("runs", "get", "1", cwd=root).stdout)
    assert run["state"]["life_cycle_state"] == "INTERNAL_ERROR"
    assert run["state"]["result_state"] == "FAILED"
    assert "stopped before the run finished" in run["state"]["state_message"]
    assert run["tasks"][0]["state"]["life_cycle_state"] == "INTERNAL_ERROR"
    # the task's processes did not outlive their runner
    for _ in range(30):
        if not live_processes("sleep 62.75"):
            break
        time.sleep(0.2)
    assert live_processes("sleep 62.75") == []


def test_clear_errors(kiln: Kiln, tmp_path: Path) -> None:
    root = write_files(tmp_path / "b", {
        "databricks.yml": """
bundle: {name: e}
resources:
  jobs:
    broken:
      name: broken
      parameters: [{name: p, default: "1"}]
      tasks:
        - task_key: syntax
          notebook_task: {notebook_path: ./bad.py}
        - task_key: wheel
          python_wheel_task: {package_name: nope, entry_point: main}
    notdeployed:
      name: nd
      tasks: [{task_key: t, spark_python_task: {python_file: ./ok.py}}]
""",
        "bad.py": NB + "def f(:\n    pass\n",
        "ok.py": "print(1)\n",
    })
    # a syntax error is found before anything is deployed or run
    refused = kiln.run("bundle", "deploy", cwd=root, ok=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error: notebook bad.py has a syntax error: invalid syntax "
                                     "(cell 1)\n  at resources.jobs.broken.tasks[0]")
    assert refused.stderr.count("syntax error") == 1
    assert "  in bad.py:2:7" in refused.stderr
    (root / "bad.py").write_text(NB + "raise SystemExit(3)\n")
    missing = kiln.run("bundle", "run", "notdeployed", cwd=root, ok=False)
    assert missing.returncode == 1
    assert "jobs.notdeployed is not deployed to target default" in missing.stderr
    deploy(kiln, root)
    assert "no job nope in the bundle" in kiln.run("bundle", "run", "nope", cwd=root, ok=False).stderr
    bad_param = kiln.run("bundle", "run", "broken", "--params", "q=1", cwd=root, ok=False)
    assert bad_param.stderr.startswith("Error: unknown job parameters: q")
    proc = kiln.run("bundle", "run", "broken", cwd=root, ok=False)
    assert proc.returncode == 1
    assert "syntax: exited with status 3" in proc.stdout
    assert "wheel: RuntimeError: package nope is not installed in the task's environment" \
        in proc.stdout
    assert "Traceback" not in proc.stderr


def test_for_each(kiln: Kiln, tmp_path: Path) -> None:
    root = write_files(tmp_path / "b", {
        "databricks.yml": """
bundle: {name: fe}
resources:
  jobs:
    fan:
      name: fan
      tasks:
        - task_key: list
          notebook_task: {notebook_path: ./list.py}
        - task_key: each
          depends_on: [{task_key: list}]
          for_each_task:
            inputs: "{{tasks.list.values.regions}}"
            concurrency: 2
            task:
              task_key: each_iteration
              spark_python_task: {python_file: ./each.py, parameters: ["{{input.name}}", "{{input.size}}"]}
""",
        "list.py": NB + 'dbutils.jobs.taskValues.set("regions", [{"name": "eu", "size": 2}, '
                        '{"name": "us", "size": 3}, {"name": "ap", "size": 1}])\n',
        "each.py": "import sys\nname, size = sys.argv[1], int(sys.argv[2])\nprint(name * size)\n"
                   "assert name != 'fail'\n",
    })
    deploy(kiln, root)
    out = kiln.run("bundle", "run", "fan", cwd=root).stdout
    assert "[each] SUCCESS" in out
    logs = kiln.run("runs", "logs", "1", "--task", "each", cwd=root).stdout
    run_dir = kiln.home / "workspaces/default/runs/1/each"
    outputs = sorted((run_dir / str(i) / "stdout.log").read_text() for i in range(3))
    assert outputs == ["ap\n", "eueu\n", "ususus\n"]
    assert "=== each ===" in logs


def test_cancel_stops_the_task_processes(kiln: Kiln, tmp_path: Path) -> None:
    root = write_files(tmp_path / "b", {
        "databricks.yml": """
bundle: {name: c}
resources:
  jobs:
    long:
      name: long
      tasks:
        - task_key: wait
          spark_python_task: {python_file: ./wait.py}
        - task_key: next
          depends_on: [{task_key: wait}]
          spark_python_task: {python_file: ./wait.py}
""",
        "wait.py": "import subprocess, time\nsubprocess.Popen(['sleep', '77.5'])\ntime.sleep(60)\n",
    })
    deploy(kiln, root)
    proc = kiln.popen("bundle", "run", "long", cwd=root)
    wait_until_running(kiln, root)
    time.sleep(0.5)
    assert kiln.run("runs", "cancel", "1", cwd=root).stdout == "Cancel requested for run 1\n"
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "Run 1 CANCELED: canceled on request" in out
    run = json.loads(kiln.run("runs", "get", "1", cwd=root).stdout)
    assert [t["state"]["result_state"] for t in run["tasks"]] == ["CANCELED", "CANCELED"]
    assert live_processes("sleep 77.5") == []
    again = kiln.run("runs", "cancel", "1", cwd=root, ok=False)
    assert again.returncode == 1 and "already finished (CANCELED)" in again.stderr


def test_wheel_tasks_run_in_a_cached_environment(kiln: Kiln, tmp_path: Path) -> None:
    root = write_files(tmp_path / "b", {
        "databricks.yml": """
bundle: {name: w}
artifacts:
  hello: {type: whl, path: ./pkg}
resources:
  jobs:
    wheel:
      name: wheel
      tasks:
        - task_key: main
          python_wheel_task: {package_name: hello-kiln, entry_point: hello, named_parameters: {who: kiln}}
          libraries: [{whl: ./pkg/dist/*.whl}]
        - task_key: direct
          python_wheel_task: {package_name: hello-kiln, entry_point: shout, parameters: ["a", "b"]}
          libraries: [{whl: ./pkg/dist/*.whl}]
        - task_key: missing
          python_wheel_task: {package_name: hello-kiln, entry_point: nope}
          libraries: [{whl: ./pkg/dist/*.whl}]
""",
        **wheel_package("hello-kiln", "hello_kiln",
                        "import sys\n\ndef main():\n    print('hello', sys.argv[1:])\n\n"
                        "def shout():\n    print('SHOUT', sys.argv[1:])\n", {"hello": "main"}),
    })
    kiln.run("bundle", "deploy", cwd=root, timeout=300)
    proc = kiln.run("bundle", "run", "wheel", cwd=root, ok=False, timeout=300)
    assert "[main] SUCCESS" in proc.stdout and "[direct] SUCCESS" in proc.stdout
    assert "missing: RuntimeError: package hello-kiln has no entry point nope (entry points: " \
           "hello)" in proc.stdout
    logs = kiln.run("runs", "logs", "1", cwd=root).stdout
    assert "hello ['--who=kiln']" in logs and "SHOUT ['a', 'b']" in logs
    envs = kiln.home / "workspaces/default/task-envs"
    (env,) = [p for p in envs.iterdir() if p.is_dir()]
    built = (env / ".complete").stat().st_mtime_ns
    kiln.run("bundle", "run", "wheel", cwd=root, ok=False, timeout=300)
    assert [p for p in envs.iterdir() if p.is_dir()] == [env]  # reused, not rebuilt
    assert (env / ".complete").stat().st_mtime_ns == built
    # kiln's own environment did not get the package
    import importlib.util

    assert importlib.util.find_spec("hello_kiln") is None


def test_secrets_are_readable_by_tasks_and_redacted_from_logs(kiln: Kiln, tmp_path: Path) -> None:
    root = write_files(tmp_path / "b", {
        "databricks.yml": """
bundle: {name: s}
resources:
  jobs:
    use:
      name: use
      tasks:
        - task_key: nb
          notebook_task: {notebook_path: ./nb.py}
""",
        "nb.py": NB + """import os, subprocess
token = dbutils.secrets.get("prod", "token")
print("token is", token)
subprocess.run(["echo", "child says " + token])
print("keys", [s.key for s in dbutils.secrets.list("prod")])
print("mlflow", os.environ["MLFLOW_TRACKING_URI"].endswith("/mlflow/mlflow.db"))
result = dbutils.notebook.run("./child", 60, {"greeting": "hi"})
print("child returned", result)
raise ValueError("bad token " + token)
""",
        "child.py": NB + 'dbutils.widgets.text("greeting", "")\n'
                         'dbutils.notebook.exit(dbutils.widgets.get("greeting") + " there")\n',
    })
    kiln.run("bundle", "deploy", cwd=root)
    kiln.run("secrets", "create-scope", "prod", cwd=root)
    proc = kiln.run("secrets", "put-secret", "prod", "token", "--string-value", "hunter2-xyz",
                    cwd=root)
    assert proc.stdout == ""
    assert kiln.run("secrets", "list-secrets", "prod", cwd=root).stdout == "token\n"
    run = kiln.run("bundle", "run", "use", cwd=root, ok=False)
    assert run.returncode == 1
    assert "ValueError: bad token [REDACTED]" in run.stdout
    logs = kiln.run("runs", "logs", "1", cwd=root).stdout
    assert "hunter2-xyz" not in logs + run.stdout
    assert "token is [REDACTED]" in logs and "child says [REDACTED]" in logs
    assert "keys ['token']" in logs and "mlflow True" in logs
    assert "child returned hi there" in logs
    detail = json.loads(kiln.run("runs", "get", "1", cwd=root).stdout)
    assert "hunter2-xyz" not in json.dumps(detail)
    missing = kiln.run("secrets", "list-secrets", "nope", cwd=root, ok=False)
    assert missing.stderr.startswith("Error: secret scope nope does not exist")


@pytest.mark.parametrize("queue", [True, False])
def test_max_concurrent_runs_queue_or_skip(kiln: Kiln, tmp_path: Path, queue: bool) -> None:
    root = write_files(tmp_path / "b", {
        "databricks.yml": f"""
bundle: {{name: q}}
resources:
  jobs:
    one_at_a_time:
      name: one
      max_concurrent_runs: 1
      queue: {{enabled: {str(queue).lower()}}}
      tasks:
        - task_key: work
          spark_python_task: {{python_file: ./work.py}}
""",
        "work.py": "import time\ntime.sleep(2)\nprint('done')\n",
    })
    deploy(kiln, root)
    first = kiln.popen("bundle", "run", "one_at_a_time", cwd=root)
    wait_until_running(kiln, root)
    second = kiln.run("bundle", "run", "one_at_a_time", cwd=root, ok=False)
    out, _ = first.communicate(timeout=60)
    assert first.returncode == 0, out
    if queue:
        assert second.returncode == 0
        assert "Run 2 QUEUED (1 run(s) of this job active)" in second.stdout
        assert second.stdout.strip().endswith("Run 2 SUCCESS")
        runs = [json.loads(kiln.run("runs", "get", str(i), cwd=root).stdout) for i in (1, 2)]
        assert runs[1]["tasks"][0]["start_time"] >= runs[0]["tasks"][0]["end_time"]
    else:
        assert second.returncode == 1
        assert ("Run 2 SKIPPED: Skipping this run because the limit of 1 maximum concurrent "
                "runs has been reached.") in second.stdout


def test_scheduler_runs_scheduled_jobs(kiln: Kiln, tmp_path: Path) -> None:
    root = write_files(tmp_path / "b", {
        "databricks.yml": """
bundle: {name: sch}
resources:
  jobs:
    ticking:
      name: ticking
      schedule: {quartz_cron_expression: "*/2 * * * * ?", timezone_id: Europe/Amsterdam}
      tasks: [{task_key: t, spark_python_task: {python_file: ./t.py}}]
    paused:
      name: paused
      schedule: {quartz_cron_expression: "* * * * * ?", timezone_id: UTC, pause_status: PAUSED}
      tasks: [{task_key: t, spark_python_task: {python_file: ./t.py}}]
""",
        "t.py": "print('tick')\n",
    })
    deploy(kiln, root)
    out = kiln.run("scheduler", "--for", "5", "--interval", "0.2", cwd=root, timeout=60).stdout
    assert out.startswith("Scheduler watching default")
    runs = [json.loads(kiln.run("runs", "get", str(i), cwd=root).stdout)
            for i in range(1, 10) if f"Run {i} of job" in out]
    assert 2 <= len(runs) <= 3
    assert {r["run_name"] for r in runs} == {"ticking"}
    assert all(r["state"]["result_state"] == "SUCCESS" for r in runs)

    bad = (root / "databricks.yml").read_text().replace('"*/2 * * * * ?"', '"0 0 25 * * ?"')
    (root / "databricks.yml").write_text(bad)
    # the Jobs API refuses it at deploy (as Databricks does), before anything is written
    proc = kiln.run("bundle", "deploy", cwd=root, ok=False)
    assert proc.returncode == 1
    assert "Error: invalid Quartz cron expression '0 0 25 * * ?': 25 is outside 0-23" in proc.stderr
    assert "at resources.jobs.ticking.schedule.quartz_cron_expression" in proc.stderr


def test_no_wait_runs_detached_and_jobs_commands(kiln: Kiln, tmp_path: Path) -> None:
    root = write_files(tmp_path / "b", {
        "databricks.yml": "bundle: {name: nw}\nresources:\n  jobs:\n    j:\n      name: jay\n"
                          "      parameters: [{name: x, default: '1'}]\n"
                          "      tasks: [{task_key: t, spark_python_task: {python_file: ./t.py}}]\n",
        "t.py": "import time, sys\ntime.sleep(1)\nprint('x is', dbutils.widgets.get('x'))\n",
    })
    deploy(kiln, root)
    t0 = time.monotonic()
    out = kiln.run("bundle", "run", "j", "--no-wait", "--params", "x=7", cwd=root).stdout
    assert time.monotonic() - t0 < 5
    assert out.startswith("Run URL: kiln://default/runs/1\nRun 1 started")
    for _ in range(100):
        run = json.loads(kiln.run("runs", "get", "1", cwd=root).stdout)
        if run["state"]["life_cycle_state"] == "TERMINATED":
            break
        time.sleep(0.2)
    assert run["state"]["result_state"] == "SUCCESS"
    assert "x is 7" in kiln.run("runs", "logs", "1", cwd=root).stdout
    listing = kiln.run("jobs", "list", cwd=root).stdout
    assert listing.splitlines()[1].split() == ["1", "jay"]
    assert json.loads(kiln.run("jobs", "get", "1", cwd=root).stdout)["settings"]["name"] == "jay"
    assert kiln.run("jobs", "delete", "1", cwd=root).stdout == "Deleted job 1\n"
    assert "update" not in kiln.run("bundle", "plan", cwd=root).stdout
    assert "create jobs.j" in kiln.run("bundle", "plan", cwd=root).stdout


def test_a_terminal_shows_a_live_table_and_workers_are_configurable(kiln: Kiln, tmp_path: Path) -> None:
    from tests.conftest import kiln_exe, run_on_terminal

    root = write_files(tmp_path / "b", {
        "databricks.yml": "bundle: {name: live}\nresources:\n  jobs:\n    j:\n      name: j\n"
                          "      tasks:\n" + "".join(
                              f"        - task_key: t{i}\n"
                              f"          spark_python_task: {{python_file: ./t.py}}\n"
                              for i in range(4)),
        "t.py": "import time\ntime.sleep(0.5)\n",
    })
    deploy(kiln, root)
    shown = run_on_terminal([kiln_exe(), "bundle", "run", "j"], root,
                            {**kiln.env(KILN_TASK_WORKERS="1"), "TERM": "xterm"})
    assert "┏" in shown and "t3" in shown and "Run 1 SUCCESS" in shown
    run = json.loads(kiln.run("runs", "get", "1", cwd=root).stdout)
    spans = sorted((t["start_time"], t["end_time"]) for t in run["tasks"])
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # one worker: one at a time


def test_sql_and_sh_cells(kiln: Kiln, tmp_path: Path) -> None:
    root = write_files(tmp_path / "b", {
        "databricks.yml": "bundle: {name: sql}\nresources:\n  jobs:\n    j:\n      name: j\n"
                          "      tasks: [{task_key: t, notebook_task: {notebook_path: ./nb.py}}]\n",
        "nb.py": NB + "# MAGIC %sql\n# MAGIC SELECT 40 + 2 AS answer\n\n# COMMAND ----------\n\n"
                      "print('rows', [r.asDict() for r in _sqldf.collect()])\n\n# COMMAND ----------\n\n"
                      "display(_sqldf)\n\n# COMMAND ----------\n\n"
                      "# MAGIC %sh echo from-shell\n\n# COMMAND ----------\n\n"
                      "# MAGIC %pip install nothing-here\n",
    })
    deploy(kiln, root)
    proc = kiln.run("bundle", "run", "j", cwd=root, ok=False)
    logs = kiln.run("runs", "logs", "1", cwd=root).stdout
    assert "answer" in logs and "rows [{'answer': 42}]" in logs and "from-shell" in logs
    # display(_sqldf) shows the rows (the cell's own display, then the explicit one)
    assert [line.strip() for line in logs.splitlines()].count("42") == 2, logs
    assert proc.returncode == 1  # %pip of a package that does not exist: pip's own words
    assert "No matching distribution found for nothing-here" in proc.stdout, proc.stdout


def test_pip_cells_install_for_the_rest_of_the_notebook(kiln: Kiln, tmp_path: Path) -> None:
    root = write_files(tmp_path / "b", {
        "databricks.yml": "bundle: {name: pip}\nresources:\n  jobs:\n    j:\n      name: j\n"
                          "      tasks: [{task_key: t, notebook_task: {notebook_path: ./nb.py}}]\n",
        "nb.py": NB + "# MAGIC %pip install tabulate==0.10.0\n\n# COMMAND ----------\n\n"
                      "dbutils.library.restartPython()\n\n# COMMAND ----------\n\n"
                      "import tabulate\nprint('tabulate', tabulate.__version__)\n",
    })
    deploy(kiln, root)
    for run in (1, 2):  # the second run reuses the environment the first one built
        proc = kiln.run("bundle", "run", "j", cwd=root, ok=False, timeout=300)
        assert proc.returncode == 0, proc.stdout
        assert "tabulate 0.10.0" in kiln.run("runs", "logs", str(run), cwd=root).stdout
    # kiln's own environment did not change
    assert subprocess.run([sys.executable, "-c", "import tabulate"]).returncode != 0


def test_jobs_write_delta_tables_that_sql_reads(kiln: Kiln, tmp_path: Path) -> None:
    root = write_files(tmp_path / "b", {
        "databricks.yml": """
bundle: {name: tbl}
resources:
  schemas:
    ml: {name: ml, catalog_name: main}
  jobs:
    etl:
      name: etl
      tasks:
        - task_key: load
          notebook_task: {notebook_path: ./load.py}
        - task_key: report
          depends_on: [{task_key: load}]
          notebook_task: {notebook_path: ./report.py}
""",
        "load.py": NB + "import pandas as pd\nimport kiln.tables as tables\n"
                        "v = tables.write('main.ml.sales', pd.DataFrame({'region': ['eu', 'us', 'eu'], "
                        "'amount': [10, 5, 7]}))\n"
                        "tables.write('main.ml.sales', pd.DataFrame({'region': ['us'], 'amount': [1]}))\n"
                        "dbutils.jobs.taskValues.set('version', v)\n",
        "report.py": NB + "# MAGIC %sql\n# MAGIC SELECT region, sum(amount) AS total FROM main.ml.sales "
                          "GROUP BY region ORDER BY region\n\n# COMMAND ----------\n\n"
                          "import kiln\nprint('rows', kiln.sql('SELECT count(*) AS n FROM main.ml.sales')"
                          ".to_pylist())\n",
    })
    deploy(kiln, root)
    kiln.run("bundle", "run", "etl", cwd=root)
    logs = kiln.run("runs", "logs", "1", "--task", "report", cwd=root).stdout
    assert "rows [{'n': 4}]" in logs and "eu" in logs and "17" in logs
    out = kiln.run("sql", "SELECT region, sum(amount) AS total FROM main.ml.sales GROUP BY 1 "
                   "ORDER BY 1", "-o", "json", cwd=root).stdout
    assert json.loads(out) == [{"region": "eu", "total": 17}, {"region": "us", "total": 6}]
    history = kiln.run("tables", "history", "main.ml.sales", cwd=root).stdout
    assert history.splitlines()[1].split()[:2] == ["1", "WRITE"]
    assert "eu" in kiln.run("tables", "preview", "main.ml.sales", "--version", "0", cwd=root).stdout
    assert kiln.run("tables", "list", cwd=root).stdout == "main.ml.sales\n"
    assert kiln.run("schemas", "list", cwd=root).stdout == "main.ml\n"
    assert json.loads(kiln.run("schemas", "get", "main.ml", cwd=root).stdout)["full_name"] == \
        "main.ml"
    busy = kiln.run("schemas", "delete", "main.ml", cwd=root, ok=False)
    assert busy.returncode == 1 and "schema main.ml is not empty" in busy.stderr
    assert kiln.run("schemas", "create", "main.raw", cwd=root).stdout == "Created schema main.raw\n"
    bad = kiln.run("schemas", "create", "main.r;x", cwd=root, ok=False)
    assert bad.returncode == 1 and "invalid schema name" in bad.stderr


def test_a_failure_two_levels_up_fails_the_run_and_names_the_error(kiln: Kiln,
                                                                    tmp_path: Path) -> None:
    root = write_files(tmp_path / "b", {
        "databricks.yml": """
bundle: {name: chain}
resources:
  jobs:
    chain:
      name: chain
      tasks:
        - task_key: a_third
          depends_on: [{task_key: m_second}]
          notebook_task: {notebook_path: ./ok.py}
        - task_key: m_second
          depends_on: [{task_key: z_first}]
          notebook_task: {notebook_path: ./ok.py}
        - task_key: z_first
          notebook_task: {notebook_path: ./boom.py}
        - task_key: cleanup
          depends_on: [{task_key: a_third}]
          run_if: ALL_DONE
          notebook_task: {notebook_path: ./ok.py}
""",
        "ok.py": NB + "print('ok')\n",
        "boom.py": NB + "print('loading the data')\nraise ValueError('the data is empty')\n",
    })
    deploy(kiln, root)
    proc = kiln.run("bundle", "run", "chain", cwd=root, ok=False)
    assert proc.returncode == 1
    assert "Run 1 FAILED" in proc.stdout and "can never start" not in proc.stdout
    assert "z_first: ValueError: the data is empty" in proc.stdout
    assert "loading the data" in proc.stdout  # the last lines of its output
    assert "kiln runs logs 1 --task z_first -w default" in proc.stdout
    run = json.loads(kiln.run("runs", "get", "1", cwd=root).stdout)
    states = {t["task_key"]: t["state"].get("result_state") for t in run["tasks"]}
    assert states == {"z_first": "FAILED", "m_second": "UPSTREAM_FAILED",
                      "a_third": "UPSTREAM_FAILED", "cleanup": "SUCCESS"}
    assert run["state"]["result_state"] == "FAILED"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupting_bundle_run_cancels_the_run(kiln: Kiln, tmp_path: Path, sig) -> None:
    root = write_files(tmp_path / "b", {
        "databricks.yml": """
bundle: {name: slow}
resources:
  jobs:
    slow:
      name: slow
      tasks:
        - task_key: first
          notebook_task: {notebook_path: ./slow.py}
        - task_key: second
          depends_on: [{task_key: first}]
          notebook_task: {notebook_path: ./slow.py}
""",
        "slow.py": NB + "import os, time\nopen(os.environ['MARK'], 'w').close()\n"
                        "time.sleep(60)\n",
    })
    deploy(kiln, root)
    mark = tmp_path / "started"
    env = {**kiln.env(), "MARK": str(mark)}
    proc = subprocess.Popen([kiln_exe(), "bundle", "run", "slow"], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not mark.exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    t0 = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 10  # the running task was stopped, not waited for
    assert proc.returncode != 0 and "Traceback" not in err and "internal error" not in err
    assert "Run 1 CANCELED" in out and "kiln runs get 1 -w default" in out
    run = json.loads(kiln.run("runs", "get", "1", cwd=root).stdout)
    assert run["state"]["life_cycle_state"] == "TERMINATED"
    assert run["state"]["result_state"] == "CANCELED"
    assert {t["task_key"]: t["state"].get("result_state") for t in run["tasks"]} == \
        {"first": "CANCELED", "second": "CANCELED"}
    assert not live_processes(f"kiln.jobs.runtime.task {kiln.home}")  # the task is gone


def test_a_stopped_task_leaves_no_running_mlflow_run_and_no_half_made_version(
        kiln: Kiln, tmp_path: Path) -> None:
    """Ctrl-C after the task registered two versions (one already behind an alias) and
    before it finished: its MLflow run ends KILLED, the version nothing uses is deleted."""
    root = write_files(tmp_path / "b", {
        "databricks.yml": "bundle: {name: half}\nresources:\n  jobs:\n    train:\n"
                          "      name: train\n"
                          "      tasks: [{task_key: train, notebook_task: "
                          "{notebook_path: ./train.py}}]\n",
        "train.py": NB + """import os, time
import mlflow
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression
mlflow.set_registry_uri("databricks-uc")
mlflow.set_experiment("/Shared/half")
import pandas as pd
x = pd.DataFrame({"x": [0, 1]})  # integer columns: MLflow warns about them on every log
model = LogisticRegression().fit(x, [0, 1])
with mlflow.start_run():
    for _ in range(2):
        mlflow.sklearn.log_model(model, name="m", registered_model_name="main.default.m",
                                 input_example=x)
    MlflowClient().set_registered_model_alias("main.default.m", "champion", "1")
    open(os.environ["MARK"], "w").close()
    time.sleep(60)  # evaluation that never finishes
""",
    })
    deploy(kiln, root)
    mark = tmp_path / "registered"
    proc = subprocess.Popen([kiln_exe(), "bundle", "run", "train"], cwd=root,
                            env={**kiln.env(), "MARK": str(mark)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not mark.exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert "Run 1 CANCELED" in out, out + err
    versions = json.loads(kiln.run("models", "versions", "main.default.m", "-o", "json",
                                   cwd=root).stdout)
    assert [str(v["version"]) for v in versions] == ["1"], (versions, kiln.run("runs", "logs", "1", cwd=root).stdout)
    logs = kiln.run("runs", "logs", "1", cwd=root).stdout
    # the task log: each warning once, none of MLflow's INFO lines
    assert logs.count("Inferred schema contains integer column(s)") == 1, logs
    assert " INFO mlflow" not in logs, logs
    assert "deleted: main.default.m v2" in logs and "kept (an alias points at them): " \
        "main.default.m v1" in logs
    runs = json.loads(kiln.run("experiments", "runs", "/Shared/half", "-o", "json",
                               cwd=root).stdout)
    assert runs and all(r["status"] == "KILLED" for r in runs), runs
