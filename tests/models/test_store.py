"""Each workspace's MLflow keeps its own artifacts, also when one process opens several."""

from __future__ import annotations

from pathlib import Path

from kiln.models import objects
from kiln.models.store import artifact_root, client


def test_experiments_keep_artifacts_in_their_own_workspace(tmp_path: Path) -> None:
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    client(a)  # a process that opened workspace a first (promotion does)
    exp = objects.ensure_experiment(b, {"name": "/Shared/x"})
    assert client(b).get_experiment(exp).artifact_location.startswith(artifact_root(b))
    assert client(a).get_experiment_by_name("/Shared/x") is None
