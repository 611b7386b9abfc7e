"""Reading a table from files for ad hoc drift runs: a Delta table directory, a Parquet
file, or a directory of Parquet files."""

from __future__ import annotations

import os

import pandas as pd

from kiln.errors import KilnError


def read_table(path: str) -> pd.DataFrame:
    if os.path.isdir(os.path.join(path, "_delta_log")):
        from deltalake import DeltaTable

        return DeltaTable(path).to_pandas()
    if os.path.exists(path):
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path).to_pandas()
        except Exception as e:  # noqa: BLE001 - pyarrow raises several kinds here
            raise KilnError(f"{path} is neither a Delta table nor Parquet: {e}") from None
    raise KilnError(f"{path} does not exist")
