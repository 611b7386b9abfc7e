"""``mlflow-artifacts:`` URIs of a workspace's store, as kiln server writes them, resolve on
disk for a process on the store: through MLflow's own artifact calls (kiln's plugin) and
for kiln's direct reads (cards, promotion)."""

from __future__ import annotations

from pathlib import Path

from kiln.models import store
from kiln.models.artifacts import local_root, on_disk


def test_a_workspace_store_resolves_mlflow_artifacts_on_disk(tmp_path: Path) -> None:
    import mlflow.artifacts

    ws = str(tmp_path / "ws")
    uri = store.ensure_store(ws)
    kept = Path(store.artifact_root(ws)) / "3" / "models" / "m-1" / "artifacts"
    kept.mkdir(parents=True)
    (kept / "MLmodel").write_text("flavors: {}\n")
    got = mlflow.artifacts.download_artifacts(
        artifact_uri="mlflow-artifacts:/3/models/m-1/artifacts/MLmodel", tracking_uri=uri,
        dst_path=str(tmp_path / "out"))
    assert Path(got).read_text() == "flavors: {}\n"
    assert on_disk("mlflow-artifacts:/3/models/m-1/artifacts", ws) == str(kept)
    assert on_disk(f"file://{kept}", ws) == str(kept) == on_disk(str(kept), ws)


def test_only_a_kiln_workspace_store_is_resolved_locally(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    assert local_root(store.store_uri(ws)) == store.artifact_root(ws)
    assert local_root("http://127.0.0.1:8765") is None  # a server: MLflow's own client
    assert local_root(f"sqlite:///{tmp_path}/other.db") is None
