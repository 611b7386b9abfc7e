"""Rule 1: root discovery and target selection from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.bundle import find_root
from kiln.errors import KilnError


def test_found_in_current_directory(tmp_path: Path) -> None:
    (tmp_path / "databricks.yml").write_text("bundle: {name: x}\n")
    assert find_root(str(tmp_path), {}) == (str(tmp_path), "databricks.yml")


@pytest.mark.parametrize("name", ["databricks.yaml", "bundle.yml", "bundle.yaml"])
def test_other_root_file_names(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("bundle: {name: x}\n")
    assert find_root(str(tmp_path), {})[1] == name


def test_found_in_a_parent_directory(tmp_path: Path) -> None:
    (tmp_path / "databricks.yml").write_text("bundle: {name: x}\n")
    deep = tmp_path / "src" / "pkg"
    deep.mkdir(parents=True)
    assert find_root(str(deep), {}) == (str(tmp_path), "databricks.yml")


def test_more_than_one_root_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "databricks.yml").write_text("bundle: {name: x}\n")
    (tmp_path / "bundle.yml").write_text("bundle: {name: x}\n")
    with pytest.raises(KilnError, match="multiple bundle root configuration files found"):
        find_root(str(tmp_path), {})


def test_bundle_root_variable_overrides_the_search(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "databricks.yml").write_text("bundle: {name: x}\n")
    (tmp_path / "databricks.yml").write_text("bundle: {name: y}\n")
    assert find_root(str(tmp_path), {"DATABRICKS_BUNDLE_ROOT": str(other)})[0] == str(other)


@pytest.mark.parametrize("kind, problem", [
    ("empty", "databricks.yml not found"),
    ("file", "not a directory"),
    ("missing", "stat {path}: no such file or directory")])
def test_bundle_root_variable_errors_in_the_clis_words(tmp_path: Path, kind: str,
                                                        problem: str) -> None:
    path = tmp_path / kind
    if kind == "empty":
        path.mkdir()
    elif kind == "file":
        path.write_text("")
    with pytest.raises(KilnError) as e:
        find_root(str(tmp_path), {"DATABRICKS_BUNDLE_ROOT": str(path)})
    assert e.value.summary == (f'Invalid bundle root DATABRICKS_BUNDLE_ROOT="{path}": '
                               + problem.format(path=path))
    assert "must point to an existing directory" in e.value.detail


def test_no_bundle_anywhere(tmp_path: Path) -> None:
    with pytest.raises(KilnError) as e:
        find_root(str(tmp_path), {})
    assert e.value.summary == "Unable to locate the bundle root: databricks.yml not found."
