"""Helpers for end-to-end tests: real kiln processes on real embedded workspaces."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import NOTEBOOK, kiln_exe, write_files


# (kind, its table, its key column): where a workspace keeps what a deploy makes
DEPLOYABLES = [("jobs", "jobs", "job_id"),
               ("model_serving_endpoints", "serving_endpoints", "id"),
               ("quality_monitors", "quality_monitors", "id"), ("catalogs", "uc_catalogs", "id"),
               ("schemas", "uc_schemas", "id"), ("volumes", "uc_volumes", "id"),
               ("experiments", "mlflow_experiments", "id"),
               ("registered_models", "mlflow_registered_models", "id")]


class Kiln:
    """Runs ``kiln`` as a subprocess with its own KILN_HOME and user."""

    def __init__(self, home: Path, user: str = "alice@example.com") -> None:
        self.home = home
        self.user = user

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("BUNDLE_VAR_", "DATABRICKS_", "KILN_"))}
        env.update(KILN_HOME=str(self.home), KILN_USER=self.user)
        env.update(extra)
        return env

    def run(self, *args: str, cwd: Path, ok: bool = True, timeout: float = 120,
            **env: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([kiln_exe(), *args], cwd=cwd, env=self.env(**env),
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        if ok and proc.returncode != 0:
            raise AssertionError(f"kiln {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def popen(self, *args: str, cwd: Path) -> subprocess.Popen[str]:
        return subprocess.Popen([kiln_exe(), *args], cwd=cwd, env=self.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)

    def sql(self, query: str, cwd: Path) -> list[dict[str, Any]]:
        """``kiln sql QUERY -o json``, parsed."""
        return json.loads(self.run("sql", query, "-o", "json", cwd=cwd).stdout)

    def wait_run(self, run_id: str, cwd: Path, timeout: float = 240) -> dict[str, Any]:
        """The run (``kiln runs get``) once it has a result state."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            run = json.loads(self.run("runs", "get", run_id, cwd=cwd).stdout)
            if run["state"].get("result_state"):
                return run
            assert time.monotonic() < deadline, run["state"]
            time.sleep(1)

    def db(self, workspace: str) -> Path:
        return self.home / "workspaces" / workspace / "metadata.db"

    def objects(self, workspace: str) -> list[dict[str, Any]]:
        """Every deployed object of the workspace, read from its tables (a deploy killed
        half-way must not be read through kiln, which would finish migrating it)."""
        db = self.db(workspace)
        if not db.exists():
            return []
        con = sqlite3.connect(db)
        try:
            rows = con.execute(" UNION ALL ".join(
                f"SELECT '{kind}', CAST({key} AS TEXT), name, settings, bundle_ref FROM {table}"
                for kind, table, key in DEPLOYABLES) + " ORDER BY 1, 2").fetchall()
        except sqlite3.OperationalError:  # killed before its first migration committed
            return []
        finally:
            con.close()
        return [{"kind": k, "id": i, "name": n, "settings": json.loads(s), "bundle_ref": b}
                for k, i, n, s, b in rows]

    def snapshot(self, workspace: str) -> dict[str, Any]:
        """Everything a deploy can change in a workspace: objects, state, files."""
        db = self.db(workspace)
        state = []
        if db.exists():
            con = sqlite3.connect(db)
            try:
                state = con.execute("SELECT state_id, lineage, serial, data FROM deploy_state "
                                    "ORDER BY state_id").fetchall()
            except sqlite3.OperationalError:
                state = []
            finally:
                con.close()
        files = {}
        fs = self.home / "workspaces" / workspace / "fs"
        if fs.exists():
            for p in sorted(fs.rglob("*")):
                if p.is_file():
                    files[str(p.relative_to(fs))] = hashlib.sha256(p.read_bytes()).hexdigest()
        return {"objects": self.objects(workspace), "state": state, "files": files}


def job_bundle(root: Path, n_jobs: int, *, n_files: int = 0, prod_lock: bool = True,
               extra: str = "") -> Path:
    """A bundle with ``n_jobs`` notebook jobs, a registered model, an experiment, a schema
    and a volume, and targets dev (development mode) and prod (production mode)."""
    jobs = "\n".join(
        f"    job_{i:03d}:\n"
        f"      name: job-{i:03d}\n"
        f"      tasks:\n"
        f"        - task_key: main\n"
        f"          notebook_task:\n"
        f"            notebook_path: ./notebooks/nb_{i % 5}.py\n"
        f"            base_parameters: {{catalog: '${{var.catalog}}'}}\n"
        for i in range(n_jobs))
    files = {"databricks.yml": f"""
bundle:
  name: e2e
variables:
  catalog: {{default: main}}
resources:
  schemas:
    features: {{name: features, catalog_name: '${{var.catalog}}'}}
  volumes:
    raw: {{name: raw, catalog_name: '${{var.catalog}}', schema_name: features}}
  registered_models:
    model: {{name: churn, catalog_name: '${{var.catalog}}', schema_name: features}}
  experiments:
    exp: {{name: '/Workspace/Users/${{workspace.current_user.userName}}/e2e'}}
  jobs:
{jobs}
{extra}
targets:
  dev:
    default: true
    mode: development
  prod:
    mode: production
    workspace: {{root_path: /Workspace/Shared/.bundle/e2e/prod}}
    variables: {{catalog: prod}}
"""}
    if not prod_lock:
        files["databricks.yml"] += "    bundle: {deployment: {lock: {enabled: false}}}\n"
    for i in range(5):
        files[f"notebooks/nb_{i}.py"] = NOTEBOOK
    for i in range(n_files):
        files[f"data/file_{i:04d}.txt"] = f"content {i}\n"
    return write_files(root, files)


def wheel_package(dist: str, module: str, code: str, scripts: dict[str, str]) -> dict[str, str]:
    """The files of a small setuptools project under ``pkg/`` (built by a whl artifact)."""
    entry = "".join(f'{name} = "{module}:{fn}"\n' for name, fn in scripts.items())
    return {
        "pkg/pyproject.toml": '[build-system]\nrequires = ["setuptools>=61"]\n'
                              'build-backend = "setuptools.build_meta"\n[project]\n'
                              f'name = "{dist}"\nversion = "0.1.0"\n[project.scripts]\n{entry}',
        f"pkg/src/{module}/__init__.py": code,
        ".gitignore": "pkg/dist/\npkg/build/\n*.egg-info/\n",
    }


class Postgres:
    """A throwaway PostgreSQL server on 127.0.0.1 (``scripts/postgres.sh``), with a new
    database per ``database()``."""

    SCRIPT = Path(__file__).parents[2] / "scripts" / "postgres.sh"

    def __init__(self) -> None:
        import socket
        import tempfile

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        # not under pytest's tmp dirs: as root, the server runs as the postgres user
        self.dir = tempfile.mkdtemp(prefix="kiln-pg-")
        os.chmod(self.dir, 0o755)
        subprocess.run(["bash", str(self.SCRIPT), "install"], check=True)
        subprocess.run(["bash", str(self.SCRIPT), "start", self.dir, str(self.port)],
                       check=True, timeout=120)
        self.count = 0

    def database(self) -> str:
        import psycopg

        self.count += 1
        name = f"kiln_{os.getpid()}_{self.count}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql://kiln@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        import shutil

        subprocess.run(["bash", str(self.SCRIPT), "stop", self.dir], timeout=120)
        shutil.rmtree(self.dir, ignore_errors=True)
