"""Settings come from the environment, typed and checked in one place."""

from __future__ import annotations

import pytest

from kiln.errors import KilnError
from kiln.settings import Settings


def test_defaults_and_values(tmp_path) -> None:
    s = Settings({})
    assert s.task_workers == 4 and s.user == "" and s.bundle_target is None
    assert s.home.endswith(".kiln")
    s = Settings({"KILN_HOME": str(tmp_path), "KILN_TASK_WORKERS": "8",
                  "DATABRICKS_BUNDLE_TARGET": "prod", "KILN_USER": "a@b.c"})
    assert (s.home, s.task_workers, s.bundle_target, s.user) == (str(tmp_path), 8, "prod", "a@b.c")
    assert s.config_file == str(tmp_path / "config.toml")


@pytest.mark.parametrize("raw", ["0", "-1", "many"])
def test_bad_worker_count(raw: str) -> None:
    with pytest.raises(KilnError, match="KILN_TASK_WORKERS must be a positive integer"):
        Settings({"KILN_TASK_WORKERS": raw}).task_workers
