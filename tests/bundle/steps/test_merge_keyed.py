"""Rule 6: tasks, job clusters, parameters and grants merged by key."""

from __future__ import annotations

from tests.conftest import NOTEBOOK, load

BUNDLE = """
bundle: {name: x}
resources:
  jobs:
    j:
      job_clusters:
        - job_cluster_key: main
          new_cluster: {spark_version: "15.4", num_workers: 1}
      parameters:
        - {name: date, default: "2024-01-01"}
      tasks:
        - task_key: train
          job_cluster_key: main
          notebook_task: {notebook_path: ./nb.py}
        - task_key: evaluate
          job_cluster_key: main
          depends_on: [{task_key: train}]
          notebook_task: {notebook_path: ./nb.py}
  registered_models:
    m:
      name: m
      catalog_name: c
      schema_name: s
      grants:
        - {principal: users, privileges: [EXECUTE]}
targets:
  prod:
    resources:
      jobs:
        j:
          job_clusters:
            - job_cluster_key: main
              new_cluster: {num_workers: 8}
          parameters:
            - {name: date, default: "2025-01-01"}
          tasks:
            - task_key: train
              timeout_seconds: 3600
            - task_key: a_first
              notebook_task: {notebook_path: ./nb.py}
      registered_models:
        m:
          grants:
            - {principal: users, privileges: [EXECUTE, APPLY_TAG, EXECUTE]}
            - {principal: admins, privileges: [ALL_PRIVILEGES]}
"""


def test_keyed_sequences_merge(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": BUNDLE, "nb.py": NOTEBOOK}))
    assert r.ok, r.diagnostics
    j = r.plain()["resources"]["jobs"]["j"]
    assert [t["task_key"] for t in j["tasks"]] == ["a_first", "evaluate", "train"]
    train = j["tasks"][2]
    assert train["timeout_seconds"] == 3600 and train["job_cluster_key"] == "main"
    assert j["job_clusters"] == [{"job_cluster_key": "main",
                                  "new_cluster": {"spark_version": "15.4", "num_workers": 8}}]
    assert j["parameters"] == [{"name": "date", "default": "2025-01-01"}]
    grants = r.plain()["resources"]["registered_models"]["m"]["grants"]
    assert grants == [{"principal": "users", "privileges": ["EXECUTE", "APPLY_TAG"]},
                      {"principal": "admins", "privileges": ["ALL_PRIVILEGES"]}]
