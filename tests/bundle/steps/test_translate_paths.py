"""Rule 10: resource defaults, and notebook/file paths checked and rewritten."""

from __future__ import annotations

from tests.conftest import NOTEBOOK, errors, load, summaries

FILES = "/Workspace/Users/alice@example.com/.bundle/x/default/files"


def job_bundle(tasks: str) -> str:
    return "bundle: {name: x}\ninclude: [resources/*.yml]\n", f"resources:\n  jobs:\n    j:\n      tasks:\n{tasks}"


def test_defaults(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": """
        bundle: {name: x}
        resources:
          jobs:
            j:
              schedule: {quartz_cron_expression: "0 0 * * * ?", timezone_id: UTC}
    """}))
    j = r.plain()["resources"]["jobs"]["j"]
    assert j["name"] == "Untitled"
    assert j["max_concurrent_runs"] == 1
    assert j["queue"] == {"enabled": True}
    assert j["schedule"]["pause_status"] == "UNPAUSED"
    assert j["edit_mode"] == "UI_LOCKED"
    assert j["deployment"]["kind"] == "BUNDLE"


def test_paths_relative_to_the_file_that_wrote_them(bundle_dir) -> None:
    root_yml, res_yml = job_bundle("""
        - task_key: nb
          notebook_task: {notebook_path: ../notebooks/train.py}
        - task_key: py
          spark_python_task: {python_file: ../src/main.py}
        - task_key: ipynb
          notebook_task: {notebook_path: ../notebooks/explore.ipynb}
        - task_key: sql
          sql_task: {warehouse_id: w, file: {path: ../queries/q.sql}}
        - task_key: remote
          notebook_task: {notebook_path: /Workspace/Shared/other}
        - task_key: whl
          python_wheel_task: {package_name: p, entry_point: main}
          libraries: [{whl: ../dist/*.whl}, {pypi: {package: pandas}}, {requirements: ../requirements.txt}]
""")
    r = load(bundle_dir({
        "databricks.yml": root_yml, "resources/jobs.yml": res_yml,
        "notebooks/train.py": NOTEBOOK, "notebooks/explore.ipynb": "{}",
        "src/main.py": "print(1)\n", "queries/q.sql": "select 1\n", "requirements.txt": "pandas\n",
    }))
    assert r.ok, r.diagnostics
    t = {x["task_key"]: x for x in r.plain()["resources"]["jobs"]["j"]["tasks"]}
    assert t["nb"]["notebook_task"]["notebook_path"] == FILES + "/notebooks/train"
    assert t["ipynb"]["notebook_task"]["notebook_path"] == FILES + "/notebooks/explore"
    assert t["py"]["spark_python_task"]["python_file"] == FILES + "/src/main.py"
    assert t["sql"]["sql_task"]["file"]["path"] == FILES + "/queries/q.sql"
    assert t["remote"]["notebook_task"]["notebook_path"] == "/Workspace/Shared/other"
    libs = t["whl"]["libraries"]
    assert libs[0] == {"whl": "dist/*.whl"}  # built at deploy: kept relative to the root
    assert libs[2] == {"requirements": FILES + "/requirements.txt"}


def test_missing_paths_are_errors_at_their_location(bundle_dir) -> None:
    root_yml, res_yml = job_bundle("""
        - task_key: nb
          notebook_task: {notebook_path: ../notebooks/nope}
        - task_key: py
          spark_python_task: {python_file: ../src/missing.py}
""")
    r = load(bundle_dir({"databricks.yml": root_yml, "resources/jobs.yml": res_yml}))
    # the CLI's words, with the path relative to the bundle root; the first one stops
    assert summaries(errors(r)) == [
        'notebook "notebooks/nope" not found. Local notebook references are expected\nto '
        "contain one of the following file extensions: [.py, .r, .scala, .sql, .ipynb]"]
    assert errors(r)[0].locations[0].file == "resources/jobs.yml"
    assert errors(r)[0].paths == (("resources", "jobs", "j", "tasks", 0, "notebook_task",
                                   "notebook_path"),)


def test_notebook_and_file_kinds_are_checked(bundle_dir) -> None:
    root_yml, res_yml = job_bundle("""
        - task_key: a
          notebook_task: {notebook_path: ../src/plain.py}
        - task_key: b
          spark_python_task: {python_file: ../src/nb.py}
""")
    r = load(bundle_dir({"databricks.yml": root_yml, "resources/jobs.yml": res_yml,
                         "src/plain.py": "print(1)\n", "src/nb.py": NOTEBOOK}))
    root = r.root
    assert summaries(errors(r)) == [
        'expected a notebook for "resources.jobs.j.tasks[0].notebook_task.notebook_path" but '
        f"got a file: file at {root}/src/plain.py is not a notebook"]
    r = load(bundle_dir({"databricks.yml": root_yml, "resources/jobs.yml": res_yml.replace(
        "../src/plain.py", "../src/nb.py")}))
    assert summaries(errors(r)) == [
        'expected a file for "resources.jobs.j.tasks[1].spark_python_task.python_file" but '
        f"got a notebook: file at {root}/src/nb.py is a notebook"]


def test_paths_outside_the_bundle_root(bundle_dir, tmp_path) -> None:
    (tmp_path / "outside.py").write_text(NOTEBOOK)
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nresources: {jobs: {j: {tasks: "
                                           "[{task_key: a, notebook_task: {notebook_path: ../outside.py}}]}}}\n"}))
    (err,) = errors(r)
    assert err.summary == f"path {tmp_path}/outside.py is not contained in sync root path"


def test_git_sourced_tasks_are_left_alone(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": """
        bundle: {name: x}
        resources:
          jobs:
            j:
              git_source: {git_url: "https://example.com/r.git", git_provider: gitHub, git_branch: main}
              tasks:
                - task_key: a
                  notebook_task: {notebook_path: notebooks/in_repo}
    """}))
    assert r.ok, r.diagnostics
    assert r.plain()["resources"]["jobs"]["j"]["tasks"][0]["notebook_task"]["notebook_path"] \
        == "notebooks/in_repo"


def test_environment_dependencies_are_relative_to_their_yaml_file(bundle_dir) -> None:
    r = load(bundle_dir({
        "databricks.yml": "bundle: {name: x}\ninclude: [resources/*.yml]\n",
        "resources/jobs.yml": """
            resources:
              jobs:
                j:
                  environments:
                    - environment_key: e
                      spec:
                        client: "2"
                        dependencies: ["-r ../requirements.txt", "--editable=../lib",
                                       "pandas>=2", "../dist/*.whl", "/Volumes/c/s/v/x.whl"]
                  tasks: [{task_key: t, environment_key: e,
                           spark_python_task: {python_file: ../main.py}}]
        """,
        "requirements.txt": "pandas\n", "lib/setup.py": "", "main.py": "print(1)\n",
    }))
    assert r.ok, r.diagnostics
    deps = r.plain()["resources"]["jobs"]["j"]["environments"][0]["spec"]["dependencies"]
    assert deps == ["-r " + FILES + "/requirements.txt", "-e " + FILES + "/lib", "pandas>=2",
                    "./dist/*.whl", "/Volumes/c/s/v/x.whl"]


def test_a_missing_requirements_file_is_an_error_where_it_is_declared(bundle_dir) -> None:
    r = load(bundle_dir({
        "databricks.yml": "bundle: {name: x}\ninclude: [resources/*.yml]\n",
        "resources/jobs.yml": """
            resources:
              jobs:
                j:
                  environments:
                    - {environment_key: e, spec: {client: "2", dependencies: ["-r ../nope.txt"]}}
        """,
    }))
    assert summaries(errors(r)) == ["file nope.txt not found"]  # relative to the root
    assert errors(r)[0].locations[0].file == "resources/jobs.yml"
