"""schemathesis against ``kiln server``'s own OpenAPI document: generated requests, valid
and not, to every operation of a workspace with a deployed bundle, a catalog, a schema, a
table and a volume in it. No answer may be a 500, and every answer must match the
document (status codes, content types, response schemas)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_server_api import served

pytestmark = pytest.mark.e2e

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance")
# operations that start processes (job runs, monitor refreshes; the refresh list shares
# the path): a fuzzer would start hundreds; the SDK tests cover them
STARTS_WORK = r"/jobs/(run-now|runs/submit)$|/monitor/refreshes$"


def test_schemathesis_finds_no_server_errors_and_no_schema_violations(tmp_path: Path) -> None:
    import pyarrow as pa
    from deltalake import write_deltalake

    with served(tmp_path) as (kiln, root, url, value):
        kiln.run("catalogs", "create", "main", cwd=root)
        kiln.run("schemas", "create", "main.sales", cwd=root)
        kiln.run("volumes", "create", "main.sales.raw", cwd=root)
        where = tmp_path / "orders"
        write_deltalake(str(where), pa.table({"id": [1, 2], "amount": [1.5, 2.5]}))
        kiln.run("tables", "create", "main.sales.orders", "--location", str(where), cwd=root)
        exe = Path(os.environ.get("VIRTUAL_ENV") or Path(__file__).parents[2] / ".venv")
        st = exe / "bin" / "schemathesis"
        proc = subprocess.run(
            [str(st), "run", f"{url}/api/openapi.json", "-H", f"Authorization: Bearer {value}",
             "--checks", CHECKS, "--max-examples", "25", "--seed", "20261202",
             "--exclude-path-regex", STARTS_WORK, "-w", "2"],
            cwd=tmp_path, capture_output=True, text=True, timeout=600)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[out.find("FAILURES"):][:8000]
        assert "passed" in out and "Tested:" in out
