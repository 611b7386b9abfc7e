"""Reading a Delta table's files into Arrow.

kiln's tables live in local storage, so Arrow reads their Parquet files with its own local
filesystem. deltalake's default filesystem calls back into Rust from Arrow's I/O threads;
with pyarrow 25 a process that read through it often aborts as it exits ("terminate
called without an active exception", exit code -6) after doing its work.
"""

from __future__ import annotations

import os
from typing import Any


def dataset(dt: Any, location: str) -> Any:
    """The Arrow dataset of the Delta table ``dt`` (at its loaded version) at ``location``."""
    import pyarrow.fs as pafs

    return dt.to_pyarrow_dataset(filesystem=pafs.SubTreeFileSystem(
        os.path.abspath(location), pafs.LocalFileSystem()))


def arrow(dt: Any, location: str) -> Any:
    """The Delta table ``dt`` (at its loaded version) as one Arrow table."""
    return dataset(dt, location).to_table()
