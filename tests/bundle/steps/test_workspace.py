"""Rule 8: workspace paths and the current user."""

from __future__ import annotations

from kiln.bundle.context import Profile, short_name
from tests.conftest import errors, load, summaries


def ws(r):
    return r.plain()["workspace"]


def test_default_paths_under_the_users_home(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: demo}\ntargets: {dev: {}}\n"}))
    w = ws(r)
    home = "/Workspace/Users/alice@example.com/.bundle/demo/dev"
    assert w["root_path"] == home
    assert (w["file_path"], w["artifact_path"], w["resource_path"], w["state_path"]) == (
        home + "/files", home + "/artifacts", home + "/resources", home + "/state")
    assert w["current_user"] == {"userName": "alice@example.com", "short_name": "alice"}


def test_tilde_expands_and_explicit_paths_win(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": """
        bundle: {name: demo}
        workspace:
          root_path: ~/projects/${bundle.name}
          state_path: /Workspace/Shared/state/${bundle.target}
    """}))
    w = ws(r)
    assert w["root_path"] == "/Workspace/Users/alice@example.com/projects/demo"
    assert w["file_path"] == "/Workspace/Users/alice@example.com/projects/demo/files"
    assert w["state_path"] == "/Workspace/Shared/state/default"


def test_user_from_profile(bundle_dir) -> None:
    root = bundle_dir({"databricks.yml": "bundle: {name: demo}\nworkspace: {profile: ci}\n"})
    r = load(root, profiles={"ci": Profile("ci", user="ci-bot@corp.com", host="http://127.0.0.1:9")})
    assert ws(r)["current_user"]["userName"] == "ci-bot@corp.com"
    assert ws(r)["host"] == "http://127.0.0.1:9"
    r = load(root)
    assert summaries(errors(r)) == ["profile ci is not defined in config.toml"]


def test_user_defaults_to_os_user_at_localhost(bundle_dir) -> None:
    import getpass

    r = load(bundle_dir({"databricks.yml": "bundle: {name: demo}\n"}), user="")
    assert ws(r)["current_user"]["userName"] == f"{getpass.getuser()}@localhost"


def test_short_names() -> None:
    assert short_name("Alice.Smith@example.com") == "alice_smith"
    assert short_name("bob") == "bob"
    assert short_name("x-y+z@corp") == "x_y_z"


def test_git_details_are_read_from_the_repository(bundle_dir) -> None:
    import subprocess

    root = bundle_dir({"sub/databricks.yml": "bundle: {name: demo}\n"})
    subprocess.run(["git", "init", "-q", "-b", "feature/x", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "remote", "add", "origin",
                    "https://example.com/org/repo.git"], check=True)
    r = load(root / "sub")
    git = r.plain()["bundle"]["git"]
    assert git["branch"] == "feature/x"
    assert git["origin_url"] == "https://example.com/org/repo.git"
    assert git["bundle_root_path"] == "sub"
