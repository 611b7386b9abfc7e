"""A workspace with a catalog and a schema for the feature tests, its client (``fe``),
and the two feature tables most tests use."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kiln.features.client import FeatureEngineeringClient
from kiln.workspace.local import WorkspaceHome

T = pd.Timestamp("2026-03-01", tz="UTC")


@pytest.fixture
def fe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from kiln import tables
    from kiln.catalog import Catalog

    ws = WorkspaceHome(str(tmp_path)).open("dev", "alice@example.com")
    Catalog(ws).create_catalog("main")
    Catalog(ws).create_schema("main", "fs")
    monkeypatch.setenv("KILN_WORKSPACE_DIR", ws.local_root())
    monkeypatch.setenv("KILN_USER", "alice@example.com")
    monkeypatch.delenv("KILN_JOB_RUN_ID", raising=False)
    tables._catalog.cache_clear()
    yield FeatureEngineeringClient(), ws
    tables._catalog.cache_clear()
    ws.close()


def make_tables(client: FeatureEngineeringClient) -> None:
    client.create_table(name="main.fs.customers", primary_keys=["customer_id"],
                        df=pd.DataFrame({"customer_id": [1, 2, 3], "age": [31, 45, 27],
                                         "plan": ["basic", "pro", "basic"]}),
                        description="who they are", tags={"team": "churn"})
    client.create_table(
        name="main.fs.spend", primary_keys=["customer_id", "ts"], timeseries_column="ts",
        df=pd.DataFrame({"customer_id": [1, 1, 2, 2],
                         "ts": [T, T + pd.Timedelta(days=2), T, T + pd.Timedelta(days=5)],
                         "spend_7d": [10.0, 30.0, 5.0, 50.0]}))


