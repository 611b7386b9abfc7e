"""Which files a deploy syncs, and what it copies and deletes."""

from __future__ import annotations

from pathlib import Path

from kiln.deploy.sync import local_files, plan_sync
from tests.conftest import write_files


def test_gitignore_include_exclude_and_paths(tmp_path: Path) -> None:
    write_files(tmp_path, {
        "databricks.yml": "bundle: {name: x}\n",
        ".gitignore": "*.log\nbuild/\n",
        "src/a.py": "", "src/debug.log": "", "build/out.txt": "",
        "src/pkg/.gitignore": "secret.txt\n", "src/pkg/secret.txt": "", "src/pkg/ok.txt": "",
        "data/big.csv": "", ".git/HEAD": "", ".databricks/bundle/x": "",
        "dist/keep.whl": "",
    })
    files = set(local_files(str(tmp_path), {}))
    assert files == {"databricks.yml", ".gitignore", "src/a.py", "src/pkg/.gitignore",
                     "src/pkg/ok.txt", "data/big.csv", "dist/keep.whl"}
    files = set(local_files(str(tmp_path), {"include": ["build/"], "exclude": ["data/"]}))
    assert "build/out.txt" in files and "data/big.csv" not in files
    assert set(local_files(str(tmp_path), {"paths": ["src"]})) == {
        "src/a.py", "src/pkg/.gitignore", "src/pkg/ok.txt"}


def test_only_changed_or_missing_files_upload() -> None:
    local = {"a": [1, 10], "b": [2, 20], "c": [3, 30]}
    previous = {"a": [1, 10], "b": [2, 19], "gone": [1, 1]}
    remote = {"a", "b", "gone", "stray"}
    uploads, deletes = plan_sync(local, previous, remote)
    assert uploads == ["b", "c"]
    assert deletes == ["gone", "stray"]
