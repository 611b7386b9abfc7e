"""A workspace's MLflow store read with ``sqlite3``, for the registry's commands that must
answer before MLflow itself could be imported (importing it costs ~1.5 s).

MLflow stays the system of record: these are MLflow's own tables, in the schema of the
MLflow kiln pins (alembic revision ``SCHEMA``), and the writes made here are the rows
MLflow's SQL store writes for the same calls: an alias (``set_registered_model_alias``,
``delete_registered_model_alias``), a version tag (``set_model_version_tag``), and what
promotion records (an experiment, a finished run with its tags, metrics and params, a
registered model, a version). Logging models, task code's runs and everything else go
through MLflow. A store at another revision is refused with both revisions named,
and a test checks ``SCHEMA`` against the installed MLflow's migrations.

The records have the attributes of MLflow's entities that kiln reads (``name``,
``version``, ``aliases``, ``tags``, ``run_id``, ``info.run_id``, ``data.metrics`` ...).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kiln.errors import KilnError, NotFound

SCHEMA = "dc11669786a5"  # MLflow 3.17's head revision
DELETED = "Deleted_Internal"  # current_stage of a deleted version
WORKSPACE = "default"  # MLflow's workspace column: kiln keeps one MLflow per workspace


@dataclass
class RegisteredModel:
    name: str
    description: str | None
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass
class ModelVersion:
    name: str
    version: int
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    description: str | None
    user_id: str | None
    source: str | None
    run_id: str | None
    status: str | None
    storage_location: str | None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)


@dataclass
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str | None
    lifecycle_stage: str
    creation_time: int | None
    last_update_time: int | None


@dataclass
class RunInfo:
    run_id: str
    run_name: str | None
    experiment_id: str
    user_id: str | None
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str | None
    lifecycle_stage: str


@dataclass
class RunData:
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]


@dataclass
class Run:
    info: RunInfo
    data: RunData


class MlflowDb:
    """One workspace's MLflow store. Every call opens its own connection (so the object
    may be shared by threads and survives a fork) and writes in one immediate
    transaction."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._checked = False

    @contextlib.contextmanager
    def _session(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                              check_same_thread=False)
        con.row_factory = sqlite3.Row
        try:
            if not self._checked:
                row = con.execute("SELECT version_num FROM alembic_version").fetchone()
                if row is None or row[0] != SCHEMA:
                    raise KilnError(f"the MLflow store {self.path} is at schema revision "
                                    f"{row[0] if row else 'none'}; this kiln reads revision "
                                    f"{SCHEMA} (the MLflow it was built with)")
                self._checked = True
            if write:
                con.execute("BEGIN IMMEDIATE")  # the writer's lock first, as MLflow's
            yield con
            if write:
                con.execute("COMMIT")
        except BaseException:
            if write and con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    # the registry ----------------------------------------------------------------------
    def models(self) -> list[RegisteredModel]:
        with self._session() as con:
            return _models(con, "")

    def model(self, name: str) -> RegisteredModel:
        with self._session() as con:
            found = _models(con, "AND name = ?", name)
        if not found:
            raise NotFound(f"registered model {name} does not exist")
        return found[0]

    def versions(self, name: str) -> list[ModelVersion]:
        with self._session() as con:
            return _versions(con, "name = ?", name)

    def version(self, name: str, version: int | str) -> ModelVersion:
        with self._session() as con:
            return _version(con, name, version)

    def by_alias(self, name: str, alias: str) -> ModelVersion | None:
        with self._session() as con:
            row = con.execute("SELECT version FROM registered_model_aliases WHERE "
                              "workspace = ? AND name = ? AND alias = ?",
                              (WORKSPACE, name, alias)).fetchone()
            return None if row is None else _version(con, name, row[0])

    def versions_of_runs(self, run_ids: list[str]) -> list[ModelVersion]:
        if not run_ids:
            return []
        with self._session() as con:
            return _versions(con, f"run_id IN ({_marks(run_ids)})", *run_ids)

    # the writes kiln's rules make ------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int | str) -> None:
        with self._session(write=True) as con:
            _version(con, name, version)  # it must exist, as MLflow checks
            con.execute("INSERT OR REPLACE INTO registered_model_aliases (alias, version, "
                        "name, workspace) VALUES (?, ?, ?, ?)",
                        (alias, _number(version), name, WORKSPACE))

    def delete_alias(self, name: str, alias: str) -> None:
        with self._session(write=True) as con:
            con.execute("DELETE FROM registered_model_aliases WHERE workspace = ? AND "
                        "name = ? AND alias = ?", (WORKSPACE, name, alias))

    def set_version_tags(self, name: str, version: int | str, tags: dict[str, str]) -> None:
        with self._session(write=True) as con:
            _version(con, name, version)
            con.executemany("INSERT OR REPLACE INTO model_version_tags (key, value, name, "
                            "version, workspace) VALUES (?, ?, ?, ?, ?)",
                            [(k, v, name, _number(version), WORKSPACE)
                             for k, v in tags.items()])

    # what promotion writes: a run holding the copy, a model, a version ----------------
    def experiment_id(self, name: str, artifact_location: str) -> str:
        """The experiment's id, created (as ``create_experiment`` does) if missing."""
        with self._session(write=True) as con:
            row = con.execute("SELECT experiment_id FROM experiments WHERE workspace = ? AND "
                              "name = ?", (WORKSPACE, name)).fetchone()
            if row is not None:
                return str(row[0])
            now = _now_ms()
            cur = con.execute("INSERT INTO experiments (name, artifact_location, "
                              "lifecycle_stage, creation_time, last_update_time, workspace) "
                              "VALUES (?, ?, 'active', ?, ?, ?)",
                              (name, artifact_location, now, now, WORKSPACE))
            return str(cur.lastrowid)

    def record_run(self, experiment_id: str, user: str, tags: dict[str, str],
                   metrics: dict[str, float], params: dict[str, str]) -> RunInfo:
        """A finished run with these tags, metrics (step 0) and params, as ``create_run``,
        ``log_metric``, ``log_param``, ``set_tag`` and ``set_terminated`` leave it; its
        artifacts are the caller's to put in ``artifact_uri``."""
        import os
        import uuid

        run_id = uuid.uuid4().hex
        now = _now_ms()
        name = tags.get("mlflow.runName", "")
        with self._session(write=True) as con:
            row = con.execute("SELECT artifact_location FROM experiments WHERE "
                              "experiment_id = ?", (int(experiment_id),)).fetchone()
            if row is None:
                raise NotFound(f"experiment {experiment_id} does not exist")
            artifact_uri = os.path.join(row[0], run_id, "artifacts")
            con.execute("INSERT INTO runs (run_uuid, name, source_type, source_name, "
                        "entry_point_name, user_id, status, start_time, end_time, "
                        "source_version, lifecycle_stage, artifact_uri, experiment_id) "
                        "VALUES (?, ?, 'UNKNOWN', '', '', ?, 'FINISHED', ?, ?, '', 'active', "
                        "?, ?)", (run_id, name, user, now, now, artifact_uri,
                                  int(experiment_id)))
            con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                            [(k, v, run_id) for k, v in {"mlflow.user": user, **tags}.items()])
            con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                            [(k, v, run_id) for k, v in params.items()])
            rows = [(k, float(v), now, run_id, 0, v != v) for k, v in metrics.items()]
            con.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, "
                            "is_nan) VALUES (?, ?, ?, ?, ?, ?)", rows)
            con.executemany("INSERT INTO latest_metrics (key, value, timestamp, run_uuid, "
                            "step, is_nan) VALUES (?, ?, ?, ?, ?, ?)", rows)
        return RunInfo(run_id, name, experiment_id, user, "FINISHED", now, now, artifact_uri,
                       "active")

    def create_model(self, name: str, description: str, tags: dict[str, str]) -> None:
        """A registered model, as ``create_registered_model`` makes it."""
        now = _now_ms()
        with self._session(write=True) as con:
            con.execute("INSERT INTO registered_models (name, creation_time, "
                        "last_updated_time, description, workspace) VALUES (?, ?, ?, ?, ?)",
                        (name, now, now, description, WORKSPACE))
            con.executemany("INSERT INTO registered_model_tags (key, value, name, workspace) "
                            "VALUES (?, ?, ?, ?)",
                            [(k, v, name, WORKSPACE) for k, v in tags.items()])

    def create_version(self, name: str, source: str, run_id: str, tags: dict[str, str],
                       description: str, storage_location: str) -> ModelVersion:
        """The model's next version, as ``create_model_version`` makes it."""
        now = _now_ms()
        with self._session(write=True) as con:
            if _models(con, "AND name = ?", name) == []:
                raise NotFound(f"registered model {name} does not exist")
            con.execute("UPDATE registered_models SET last_updated_time = ? WHERE "
                        "workspace = ? AND name = ?", (now, WORKSPACE, name))
            top = con.execute("SELECT MAX(version) FROM model_versions WHERE workspace = ? "
                              "AND name = ?", (WORKSPACE, name)).fetchone()[0]
            version = (top or 0) + 1
            con.execute("INSERT INTO model_versions (name, version, creation_time, "
                        "last_updated_time, description, current_stage, source, run_id, "
                        "status, storage_location, workspace) VALUES (?, ?, ?, ?, ?, 'None', "
                        "?, ?, 'READY', ?, ?)", (name, version, now, now, description,
                                                 source, run_id, storage_location, WORKSPACE))
            con.executemany("INSERT INTO model_version_tags (key, value, name, version, "
                            "workspace) VALUES (?, ?, ?, ?, ?)",
                            [(k, v, name, version, WORKSPACE) for k, v in tags.items()])
            return _version(con, name, version)

    # tracking --------------------------------------------------------------------------
    def experiments(self) -> list[Experiment]:
        with self._session() as con:
            return [_experiment(r) for r in con.execute(
                "SELECT * FROM experiments WHERE workspace = ? AND lifecycle_stage = "
                "'active' ORDER BY experiment_id", (WORKSPACE,))]

    def experiment(self, name_or_id: str) -> Experiment | None:
        column = "experiment_id" if name_or_id.isdigit() else "name"
        with self._session() as con:
            row = con.execute(f"SELECT * FROM experiments WHERE workspace = ? AND "
                              f"{column} = ?", (WORKSPACE, name_or_id)).fetchone()
        return None if row is None else _experiment(row)

    def runs(self, experiment_id: str, max_results: int) -> list[Run]:
        """An experiment's active runs, newest first."""
        with self._session() as con:
            ids = [r[0] for r in con.execute(
                "SELECT run_uuid FROM runs WHERE experiment_id = ? AND lifecycle_stage = "
                "'active' ORDER BY start_time DESC, run_uuid LIMIT ?",
                (int(experiment_id), max_results))]
            return _runs(con, ids)

    def run(self, run_id: str) -> Run:
        with self._session() as con:
            found = _runs(con, [run_id])
        if not found:
            raise NotFound(f"run {run_id} does not exist")
        return found[0]

    def runs_tagged(self, tags: dict[str, str]) -> list[str]:
        """The ids of the active runs that carry every one of ``tags``."""
        sql = "SELECT run_uuid FROM runs WHERE lifecycle_stage = 'active'"
        args: list[Any] = []
        for key, value in tags.items():
            sql += " AND run_uuid IN (SELECT run_uuid FROM tags WHERE key = ? AND value = ?)"
            args += [key, value]
        with self._session() as con:
            return [r[0] for r in con.execute(sql, args)]


def _models(con: sqlite3.Connection, where: str, *args: Any) -> list[RegisteredModel]:
    out = {r["name"]: RegisteredModel(r["name"], r["description"], r["creation_time"],
                                      r["last_updated_time"])
           for r in con.execute(f"SELECT * FROM registered_models WHERE workspace = ? "
                                f"{where} ORDER BY name", (WORKSPACE, *args))}
    if not out:
        return []
    only = "AND name = ?" if where else ""
    for r in con.execute(f"SELECT name, key, value FROM registered_model_tags WHERE "
                         f"workspace = ? {only}", (WORKSPACE, *args)):
        if r["name"] in out:
            out[r["name"]].tags[r["key"]] = r["value"]
    for r in con.execute(f"SELECT name, alias, version FROM registered_model_aliases "
                         f"WHERE workspace = ? {only}", (WORKSPACE, *args)):
        if r["name"] in out:
            out[r["name"]].aliases[r["alias"]] = r["version"]
    return list(out.values())


def _version(con: sqlite3.Connection, name: str, version: int | str) -> ModelVersion:
    found = _versions(con, "name = ? AND version = ?", name, _number(version))
    if not found:
        raise NotFound(f"version {version} of {name} does not exist")
    return found[0]


def _versions(con: sqlite3.Connection, where: str, *args: Any) -> list[ModelVersion]:
    rows = con.execute(f"SELECT * FROM model_versions WHERE workspace = ? AND "
                       f"current_stage != ? AND {where} ORDER BY name, version",
                       (WORKSPACE, DELETED, *args)).fetchall()
    out = {(r["name"], r["version"]): ModelVersion(
        r["name"], r["version"], r["creation_time"], r["last_updated_time"],
        r["description"], r["user_id"], r["source"], r["run_id"], r["status"],
        r["storage_location"]) for r in rows}
    names = sorted({n for n, _ in out})
    if not names:
        return []
    for r in con.execute(f"SELECT name, version, key, value FROM model_version_tags WHERE "
                         f"workspace = ? AND name IN ({_marks(names)})", (WORKSPACE, *names)):
        mv = out.get((r["name"], r["version"]))
        if mv is not None:
            mv.tags[r["key"]] = r["value"]
    for r in con.execute(f"SELECT name, version, alias FROM registered_model_aliases WHERE "
                         f"workspace = ? AND name IN ({_marks(names)})", (WORKSPACE, *names)):
        mv = out.get((r["name"], r["version"]))
        if mv is not None:
            mv.aliases.append(r["alias"])
    return list(out.values())


def _runs(con: sqlite3.Connection, ids: list[str]) -> list[Run]:
    if not ids:
        return []
    data = {i: RunData({}, {}, {}) for i in ids}
    for table, attr in (("latest_metrics", "metrics"), ("params", "params"), ("tags", "tags")):
        for r in con.execute(f"SELECT run_uuid, key, value FROM {table} WHERE run_uuid IN "
                             f"({_marks(ids)})", ids):
            getattr(data[r["run_uuid"]], attr)[r["key"]] = r["value"]
    rows = {r["run_uuid"]: r for r in con.execute(f"SELECT * FROM runs WHERE run_uuid IN "
                                                  f"({_marks(ids)})", ids)}
    return [Run(RunInfo(i, rows[i]["name"], str(rows[i]["experiment_id"]), rows[i]["user_id"],
                        rows[i]["status"], rows[i]["start_time"], rows[i]["end_time"],
                        rows[i]["artifact_uri"], rows[i]["lifecycle_stage"]), data[i])
            for i in ids if i in rows]


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


def _marks(values: list[Any]) -> str:
    return ", ".join("?" * len(values))


def _experiment(r: sqlite3.Row) -> Experiment:
    return Experiment(str(r["experiment_id"]), r["name"], r["artifact_location"],
                      r["lifecycle_stage"], r["creation_time"], r["last_update_time"])


def _number(version: int | str) -> int:
    try:
        return int(version)
    except (TypeError, ValueError):
        raise KilnError(f"a model version is a number, not {version!r}") from None
