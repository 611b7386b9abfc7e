"""A tour of a kiln server with nothing but the official Databricks SDK, as a user's CI
script would do it: who am I, upload a notebook, make a job of it, run it and wait, read
its output, make a schema and list its tables, list registered models and their aliases,
and query a serving endpoint.

    python sdk_tour.py HOST TOKEN MODEL      (MODEL: a registered cat.sch.model @champion)

Prints one JSON line of what it saw; exits non-zero on the first thing that fails.
"""

import base64
import json
import sys
import time

from databricks.sdk import WorkspaceClient
from databricks.sdk.service import jobs
from databricks.sdk.service.serving import EndpointCoreConfigInput, ServedEntityInput
from databricks.sdk.service.workspace import ImportFormat, Language

NOTEBOOK = """# Databricks notebook source
n = int(dbutils.widgets.get("n"))
spark.range(n).withColumnRenamed("id", "x").write.mode("overwrite").saveAsTable("tour.s.numbers")
dbutils.notebook.exit(str(sum(range(n))))
"""


def main(host: str, token: str, model: str) -> None:
    w = WorkspaceClient(host=host, token=token, auth_type="pat")
    me = w.current_user.me().user_name
    path = f"/Workspace/Users/{me}/tour/count"
    w.workspace.mkdirs(f"/Workspace/Users/{me}/tour")
    w.workspace.import_(path=path, content=base64.b64encode(NOTEBOOK.encode()).decode(),
                        format=ImportFormat.SOURCE, language=Language.PYTHON, overwrite=True)
    if "tour" not in [c.name for c in w.catalogs.list()]:
        w.catalogs.create(name="tour")
    w.schemas.create(name="s", catalog_name="tour")

    job = w.jobs.create(name="tour", tasks=[jobs.Task(
        task_key="count", notebook_task=jobs.NotebookTask(notebook_path=path,
                                                          base_parameters={"n": "10"}))])
    run = w.jobs.run_now(job.job_id).result(timeout=__import__("datetime").timedelta(minutes=5))
    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state
    output = w.jobs.get_run_output(run.tasks[0].run_id).notebook_output.result
    tables = [t.full_name for t in w.tables.list(catalog_name="tour", schema_name="s")]

    catalog, schema, _ = model.split(".")
    models = {m.full_name: sorted(a.alias_name for a in m.aliases or [])
              for m in w.registered_models.list(catalog_name=catalog, schema_name=schema)}

    w.serving_endpoints.create(name="tour", config=EndpointCoreConfigInput(
        name="tour", served_entities=[ServedEntityInput(
            entity_name=model, entity_version="1", workload_size="Small",
            scale_to_zero_enabled=False)]))
    deadline = time.monotonic() + 120
    while w.serving_endpoints.get("tour").state.ready.value != "READY":
        assert time.monotonic() < deadline, "the endpoint did not become ready"
        time.sleep(0.5)
    answer = w.serving_endpoints.query(name="tour", inputs=[[1.0]])
    w.serving_endpoints.delete("tour")
    print(json.dumps({"user": me, "output": output, "tables": tables, "models": models,
                      "predictions": answer.predictions}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
