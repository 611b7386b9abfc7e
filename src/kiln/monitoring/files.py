"""Reading a table from files for ad hoc drift runs: a Delta table directory, a Parquet
file, or a directory of Parquet files."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from kiln.errors import KilnError, NotFound


def read_table(path: str) -> "pd.DataFrame":
    return read_arrow(path).to_pandas()


def read_arrow(path: str) -> Any:
    """The table as an Arrow table (no pandas import: it can run while pandas loads)."""
    if os.path.isdir(os.path.join(path, "_delta_log")):
        from deltalake import DeltaTable

        from kiln.catalog import delta_io

        return delta_io.arrow(DeltaTable(path), path)
    if os.path.exists(path):
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path)
        except Exception as e:  # noqa: BLE001 - pyarrow raises several kinds here
            raise KilnError(f"{path} is neither a Delta table nor Parquet: {e}") from None
    raise NotFound(f"{path} does not exist")
