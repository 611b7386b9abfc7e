"""Two deploys to a development target at once (no deployment lock): the one that loses
says what happened and what to do, on a real embedded workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.deploy.deployer import deploy
from kiln.errors import KilnError
from kiln.events import Event
from kiln.workspace.local import WorkspaceHome
from tests.conftest import NOTEBOOK, load

BUNDLE = """
bundle: {name: race}
resources:
  jobs:
    j: {name: j, tasks: [{task_key: t, notebook_task: {notebook_path: ./nb.py}}]}
targets:
  dev: {mode: development, default: true}
"""


def test_the_deploy_that_loses_says_another_one_won(bundle_dir, tmp_path: Path) -> None:
    root = bundle_dir({"databricks.yml": BUNDLE, "nb.py": NOTEBOOK})
    bundle = load(root).bundle
    ws = WorkspaceHome(str(tmp_path / "home")).open("dev", "alice@example.com")
    other: list[object] = []

    def meanwhile(event: Event) -> None:  # the second deploy runs while the first uploads
        if event.kind == "uploading" and not other:
            other.append(deploy(bundle, ws))

    with pytest.raises(KilnError) as err:
        deploy(bundle, ws, emit=meanwhile)
    assert other, "the second deploy ran"
    assert "another deploy of bundle race to target dev finished while this one ran" \
        in err.value.summary
    assert "Run 'kiln bundle deploy' again" in err.value.detail
    assert "lineage" not in err.value.summary and "serial" not in err.value.summary
