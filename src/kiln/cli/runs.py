"""``kiln bundle run``, ``kiln jobs list|get|run-now``, ``kiln runs list|get|logs``."""

from __future__ import annotations

import sys
from typing import Any

import click

from kiln.cli.render import (
    document_opt,
    echo,
    is_tty,
    output_opt,
    print_diagnostics,
    print_json,
)
from kiln.cli.workspaces import open_where, open_workspace, profile_opt, target_opt, ws_opt
from kiln.errors import KilnError, NotFound, UsageError
from kiln.jobs.service import task_logs
from kiln.events import Event




def _parse_params(text: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in (text or "").split(","):
        if not pair.strip():
            continue
        k, sep, v = pair.partition("=")
        if not sep:
            raise UsageError(f'--params expects key=value pairs separated by commas, got "{pair}"')
        out[k.strip()] = v
    return out


def _printer(event: Event) -> None:
    if event.kind != "done":  # the final line comes from _finish, with details
        echo(event.message)


class _LiveRun:
    """Task states as a live Rich table on a terminal; event lines when piped."""

    def __init__(self) -> None:
        self.live = None
        self.run_id: int | None = None
        self.rows: dict[str, str] = {}
        if is_tty(sys.stdout):
            from rich.live import Live

            self.live = Live(self._table(), refresh_per_second=8, transient=False)
            self.live.start()

    def _table(self):  # type: ignore[no-untyped-def]
        from rich.table import Table

        table = Table(title=f"Run {self.run_id or ''}", expand=False)
        table.add_column("task")
        table.add_column("state")
        colors = {"SUCCESS": "green", "FAILED": "red", "TIMEDOUT": "red", "CANCELED": "yellow",
                  "UPSTREAM_FAILED": "red", "EXCLUDED": "dim", "RUNNING": "cyan"}
        for key, state in self.rows.items():
            table.add_row(key, f"[{colors.get(state, 'white')}]{state}[/]")
        return table

    def __call__(self, event: Event) -> None:
        if self.live is None:
            _printer(event)
            return
        run_id = event.data.get("run_id")
        if self.run_id is None and run_id is not None:
            self.run_id = run_id
        if event.kind == "task" and run_id == self.run_id:
            self.rows[event.data["task_key"]] = (event.data.get("result_state")
                                                 or event.data["life_cycle_state"])
            self.live.update(self._table())
        elif event.kind not in ("task", "done"):
            self.live.console.print(event.message, markup=False)

    def close(self) -> None:
        if self.live is not None:
            self.live.update(self._table())
            self.live.stop()


def _engine(ws, emit):  # type: ignore[no-untyped-def]
    from kiln.jobs.engine import Engine
    from kiln.settings import Settings

    return Engine(ws, emit, Settings.from_env().task_workers)


def _run_and_finish(ws, job_id: int, params: dict[str, str],  # type: ignore[no-untyped-def]
                    python_params: list[str] | None) -> None:
    import signal

    # SIGTERM is a Ctrl-C: the engine cancels the run and ends every task
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    display = _LiveRun()
    try:
        doc = _engine(ws, display).run_now(job_id, params, python_params)
    finally:
        display.close()
    _finish(doc, ws)


def _finish(doc: dict[str, Any], ws: Any = None) -> None:
    state = doc["state"]
    if state["life_cycle_state"] == "SKIPPED":
        echo(f"Run {doc['run_id']} SKIPPED: {state.get('state_message', '')}")
        sys.exit(1)
    echo(f"Run {doc['run_id']} {state.get('result_state') or state['life_cycle_state']}"
         + (f": {state['state_message']}" if state.get("state_message") else ""))
    for t in doc.get("tasks", []):
        st = t.get("state", {})
        if st.get("result_state") in ("FAILED", "TIMEDOUT") and t.get("error"):
            echo(f"  {t['task_key']}: {t['error']}")
            tail = t.get("log_tail") or (_log_tail(ws, doc["run_id"], t["task_key"])
                                         if ws is not None else [])
            if tail:
                echo("    last lines of its output:")
                for line in tail:
                    echo(f"      {line}")
            if ws is not None:
                echo(f"    all of it: kiln runs logs {doc['run_id']} --task {t['task_key']} "
                     f"-w {ws.name}")
    if state.get("result_state") == "CANCELED" and ws is not None:
        echo(f"  see it: kiln runs get {doc['run_id']} -w {ws.name}")
    if state.get("result_state") != "SUCCESS":
        sys.exit(1)




@click.command(name="run")
@click.argument("key")
@target_opt
@click.option("--var", multiple=True, metavar="NAME=VALUE", help="Set a bundle variable.")
@click.option("--params", help="Job parameters: key=value,key2=value2.")
@click.option("--python-params", help="Parameters for spark_python_task tasks, space separated.")
@click.option("--no-wait", is_flag=True, help="Start the run and return at once.")
def bundle_run(key: str, target: str | None, var: tuple[str, ...], params: str | None,
               python_params: str | None, no_wait: bool) -> None:
    """Run a job of the bundle (deployed first with 'kiln bundle deploy') and wait."""
    from kiln.cli.workspaces import load_for_target, open_bundle_workspace, require_ok
    from kiln.deploy.deployer import bundle_tree, deployed_objects, state_id

    result, ctx = load_for_target(target, var)
    require_ok(result)
    print_diagnostics(result.diagnostics)
    assert result.bundle is not None
    tree = bundle_tree(result.bundle)
    if key not in ((tree.get("resources") or {}).get("jobs") or {}):
        jobs = sorted(((tree.get("resources") or {}).get("jobs") or {}))
        raise KilnError(f"no job {key} in the bundle", detail="Jobs: " + (", ".join(jobs) or "none"))
    ws = open_bundle_workspace(tree, ctx, create=False, remote_ok=True)
    deployed = deployed_objects(ws, state_id(tree)) if ws is not None else {}
    job = deployed.get(f"jobs.{key}")
    if ws is None or job is None:
        raise KilnError(f"jobs.{key} is not deployed to target {result.bundle.target}; "
                        "run 'kiln bundle deploy' first")
    pparams = python_params.split() if python_params else None
    from kiln.workspace.remote import RemoteWorkspace

    if isinstance(ws, RemoteWorkspace):
        _run_on_server(ws, int(job.id), _parse_params(params), pparams, no_wait)
        return
    if no_wait:
        _start_detached(ws, int(job.id), _parse_params(params), pparams)
        return
    _run_and_finish(ws, int(job.id), _parse_params(params), pparams)


def _run_on_server(ws, job_id: int, params: dict[str, str],  # type: ignore[no-untyped-def]
                   python_params: list[str] | None, no_wait: bool) -> None:
    """Run the job on the kiln server: run-now, then follow its tasks until it ends. Ctrl-C
    cancels the run there."""
    import time

    from kiln.workspace.remote import RemoteJobs

    jobs = RemoteJobs(ws.client)
    run_id = jobs.run_now(job_id, params, python_params)
    echo(f"Run URL: {ws.url('runs', str(run_id))}")
    if no_wait:
        echo(f"Run {run_id} started")
        return
    seen: dict[str, str] = {}
    try:
        while True:
            doc = jobs.get_run(run_id)
            for t in doc.get("tasks") or []:
                st = t.get("state") or {}
                shown = st.get("result_state") or st.get("life_cycle_state") or "PENDING"
                if seen.get(t["task_key"]) != shown:
                    seen[t["task_key"]] = shown
                    echo(f"  {t['task_key']}: {shown}")
            if doc["state"]["life_cycle_state"] in ("TERMINATED", "INTERNAL_ERROR", "SKIPPED"):
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        jobs.cancel_run(run_id)
        echo(f"Run {run_id}: cancel requested")
        sys.exit(130)
    for t in doc.get("tasks") or []:  # a failed task's own output: its error and log tail
        if (t.get("state") or {}).get("result_state") in ("FAILED", "TIMEDOUT"):
            logs = jobs.run_output(t["run_id"]).get("logs") or ""
            t["error"] = t.get("error") or "failed"
            t["log_tail"] = logs.splitlines()[-5:]
    _finish(doc)


def _start_detached(ws, job_id: int, params: dict[str, str],  # type: ignore[no-untyped-def]
                    python_params: list[str] | None) -> None:
    from kiln.jobs.detached import start

    run_id = start(ws, job_id, params, python_params)
    echo(f"Run URL: {ws.url('runs', str(run_id))}")
    echo(f"Run {run_id} started (kiln runs get {run_id} -w {ws.name})")


@click.group()
def jobs() -> None:
    """Jobs in a workspace."""


@jobs.command(name="list")
@ws_opt
@output_opt
def jobs_list(workspace: str | None, output: str) -> None:
    """List the jobs of a workspace."""
    from kiln.jobs.service import JobsService

    page, _ = JobsService(open_workspace(workspace)).list_jobs(limit=100)
    if output == "json":
        print_json({"jobs": page})
        return
    echo(f"{'JOB ID':>8}  NAME")
    for job in page:
        echo(f"{job['job_id']:>8}  {job['settings'].get('name', '')}")


@jobs.command(name="get")
@click.argument("job_id", type=int)
@ws_opt
@document_opt
def jobs_get(job_id: int, workspace: str | None) -> None:
    """Show a job's settings (JSON)."""
    from kiln.jobs.service import JobsService

    print_json(JobsService(open_workspace(workspace)).get_job(job_id))


@jobs.command(name="run-now")
@click.argument("job_id", type=int)
@ws_opt
@click.option("--params", help="Job parameters: key=value,key2=value2.")
@click.option("--no-wait", is_flag=True, help="Start the run and return at once.")
def jobs_run_now(job_id: int, workspace: str | None, params: str | None, no_wait: bool) -> None:
    """Run a job and wait for it (or not)."""

    ws = open_workspace(workspace)
    if no_wait:
        _start_detached(ws, job_id, _parse_params(params), None)
        return
    _run_and_finish(ws, job_id, _parse_params(params), None)


@jobs.command(name="delete")
@click.argument("job_id", type=int)
@ws_opt
def jobs_delete(job_id: int, workspace: str | None) -> None:
    """Delete a job (a bundle's next deploy puts its own jobs back)."""
    from kiln.jobs.service import JobsService

    JobsService(open_workspace(workspace)).delete_job(job_id)
    echo(f"Deleted job {job_id}")


@click.group()
def runs() -> None:
    """Job runs in a workspace."""


@runs.command(name="list")
@ws_opt
@click.option("--job-id", type=int)
@click.option("--limit", type=int, default=25, show_default=True)
@output_opt
def runs_list(workspace: str | None, job_id: int | None, limit: int, output: str) -> None:
    """List recent runs."""
    found = open_workspace(workspace).list_runs(job_id, limit)
    if output == "json":
        print_json({"runs": found})
        return
    echo(f"{'RUN ID':>7} {'JOB ID':>7}  {'STATE':16} NAME")
    for r in found:
        st = r["state"]
        echo(f"{r['run_id']:>7} {r['job_id']:>7}  "
             f"{(st.get('result_state') or st['life_cycle_state']):16} {r.get('run_name', '')}")


@runs.command(name="get")
@click.argument("run_id", type=int)
@ws_opt
@document_opt
def runs_get(run_id: int, workspace: str | None) -> None:
    """Show a run (JSON, the Jobs API shape)."""
    print_json(open_workspace(workspace).get_run(run_id))


@runs.command(name="get-output")
@click.argument("run_id", type=int)
@click.option("--task", "task_key", help="The task (default: the only one).")
@ws_opt
def runs_get_output(run_id: int, task_key: str | None, workspace: str | None) -> None:
    """A task's notebook exit value, error and logs (JSON)."""
    from kiln.jobs.service import JobsService

    service = JobsService(open_workspace(workspace))
    if task_key is None:  # several tasks: say which, as before
        _pick_task(service.get_run(run_id), None)
    print_json(service.run_output(run_id, task_key))


@runs.command(name="logs")
@click.argument("run_id", type=int)
@click.option("--task", "task_key", help="Only this task.")
@ws_opt
def runs_logs(run_id: int, task_key: str | None, workspace: str | None) -> None:
    """Print the stdout and stderr of a run's tasks."""
    ws = open_workspace(workspace)
    run = ws.get_run(run_id)
    tasks = [_pick_task(run, task_key)] if task_key else run.get("tasks", [])
    for t in tasks:
        echo(f"=== {t['task_key']} ===")
        sys.stdout.write(task_logs(ws.run_dir(run_id), t["task_key"]))


def _pick_task(run: dict[str, Any], key: str | None) -> dict[str, Any]:
    tasks = run.get("tasks", [])
    if key is None:
        if len(tasks) != 1:
            raise UsageError("the run has several tasks; name one with --task",
                             detail="Tasks: " + ", ".join(t["task_key"] for t in tasks))
        return tasks[0]
    for t in tasks:
        if t["task_key"] == key:
            return t
    raise UsageError(f"run {run['run_id']} has no task {key}")


def _log_tail(ws: Any, run_id: int, key: str, lines: int = 5) -> list[str]:
    """The last lines a task printed (its traceback's last lines, often)."""
    try:
        text = task_logs(ws.run_dir(run_id), key)
    except OSError:
        return []
    return [ln for ln in text.splitlines() if ln.strip()][-lines:]


@runs.command(name="cancel")
@click.argument("run_id", type=int)
@ws_opt
def runs_cancel(run_id: int, workspace: str | None) -> None:
    """Cancel a run: its running tasks' processes are stopped, nothing new starts."""
    from kiln.jobs.service import JobsService

    service = JobsService(open_workspace(workspace))
    if not service.cancel_run(run_id):
        state = service.get_run(run_id)["state"]
        raise KilnError(f"run {run_id} already finished ({state.get('result_state')})")
    echo(f"Cancel requested for run {run_id}")


@click.command()
@click.option("-w", "--workspace", "names", multiple=True,
              help="Workspaces to watch (default: all embedded workspaces).")
@click.option("-t", "--target", "targets", multiple=True,
              help="Bundle targets whose workspaces to watch.")
@profile_opt
@click.option("--interval", type=float, default=1.0, show_default=True,
              help="Seconds between checks.")
@click.option("--for", "duration", type=float, default=None,
              help="Stop after this many seconds (default: run until interrupted).")
def scheduler(names: tuple[str, ...], targets: tuple[str, ...], interval: float,
              duration: float | None) -> None:
    """Fire scheduled and periodic job runs, in the foreground."""
    import gc
    import threading

    from kiln.jobs.scheduler import Scheduler
    from kiln.settings import Settings
    from kiln.workspace.local.home import WorkspaceHome

    gc.enable()  # a long-running process
    s = Settings.from_env()
    home = WorkspaceHome(s.home)
    named = [open_where(t, None).name for t in targets]
    if click.get_current_context().meta.get("kiln.profile"):
        named.append(open_workspace(None).name)  # -p: the profile's workspace
    chosen = list(names) + named or home.names()
    for n in chosen:
        if not home.exists(n):
            raise NotFound(f"workspace {n} does not exist")
    workspaces = [home.open(n, s.user or "scheduler") for n in chosen]
    running: list[threading.Thread] = []

    def start_run(ws, job_id: int) -> None:  # type: ignore[no-untyped-def]
        def go() -> None:
            try:
                doc = _engine(ws, _printer).run_now(job_id)
                echo(f"Run {doc['run_id']} of job {job_id} "
                     f"{doc['state'].get('result_state') or doc['state']['life_cycle_state']}")
            except KilnError as e:
                echo(f"Error: job {job_id}: {e.summary}")

        th = threading.Thread(target=go, daemon=False)
        th.start()
        running.append(th)

    stop = threading.Event()
    if duration is not None:
        threading.Timer(duration, stop.set).start()
    echo(f"Scheduler watching {', '.join(chosen) or 'no workspaces'} (every {interval:g}s)")
    try:
        Scheduler(workspaces, start_run, _printer).serve(stop, interval)
    except KeyboardInterrupt:
        stop.set()
    for th in running:
        th.join()
