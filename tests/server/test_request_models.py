"""Each route's parameters are checked by its pydantic request model before its handler
runs: one table (``kiln.server.openapi``) gives the models and the OpenAPI document."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiln.server.openapi import OPERATIONS, request_model
from kiln.workspace.local import WorkspaceHome
from tests.workspace.loopback import rest_app


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str, Any]]:
    ws = WorkspaceHome(str(tmp_path)).open("dev", "alice@example.com")
    token = ws.create_token("alice@example.com")[1]
    with rest_app(ws) as url:
        yield url, token, ws
    ws.close()


def call(server: tuple[str, str, Any], method: str, path: str,
         body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    url, token, _ws = server
    req = urllib.request.Request(url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_every_described_route_has_a_model_of_what_it_names() -> None:
    for (method, path), (_summary, params, _answer) in OPERATIONS.items():
        model = request_model(method, path)
        names = [p.partition(":")[0] for p in params.split()]
        assert (model is None) == (not names), (method, path)
        if model is not None:
            assert sorted(f.alias for f in model.model_fields.values()) == sorted(names)


def test_a_wrong_or_missing_parameter_is_refused_before_the_handler(server: Any) -> None:
    _url, _token, ws = server
    status, doc = call(server, "GET", "/api/2.2/jobs/get?job_id=seven")
    assert status == 400 and doc["error_code"] == "INVALID_PARAMETER_VALUE"
    assert doc["message"].startswith("invalid value for job_id: input should be a valid "
                                     "integer"), doc
    status, doc = call(server, "POST", "/api/2.2/jobs/reset", {"job_id": 1})
    assert (status, doc["message"]) == (400, "missing required parameter: new_settings")
    status, doc = call(server, "POST", "/api/2.2/jobs/create", {"name": ["not", "text"]})
    assert status == 400 and doc["message"].startswith("invalid value for name:")
    assert ws.list("jobs") == []  # nothing was made
    # what Databricks' clients send beyond what kiln reads passes; a query's text is typed
    status, doc = call(server, "POST", "/api/2.2/jobs/create",
                       {"name": "j", "tasks": [], "format": "MULTI_TASK"})
    assert status == 200
    status, doc = call(server, "GET", f"/api/2.2/jobs/get?job_id={doc['job_id']}")
    assert (status, doc["settings"]["name"]) == (200, "j")
