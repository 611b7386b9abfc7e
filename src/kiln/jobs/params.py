"""Dynamic value references: ``{{job.id}}``, ``{{job.parameters.x}}``,
``{{tasks.train.values.model_uri}}``, ``{{job.start_time.iso_date}}``, ... Pure.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from kiln.errors import KilnError

_REF = re.compile(r"\{\{\s*([A-Za-z_][\w.\-\[\]]*)\s*\}\}")


@dataclass(frozen=True)
class RunContext:
    job_id: int
    run_id: int
    job_name: str
    start_time_ms: int
    parameters: dict[str, str] = field(default_factory=dict)
    task_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    task_key: str = ""
    task_run_id: int = 0
    attempt: int = 0
    workspace: str = ""
    input: Any = None  # the current element of a for_each_task

    def lookup(self, ref: str) -> str:
        parts = ref.split(".")
        start = dt.datetime.fromtimestamp(self.start_time_ms / 1000, tz=dt.timezone.utc)
        simple = {
            "job.id": str(self.job_id), "job.run_id": str(self.run_id), "job.name": self.job_name,
            "job.trigger.type": "ONE_TIME", "job.repair_count": "0",
            "task.name": self.task_key, "task.run_id": str(self.task_run_id),
            "task.execution_count": str(self.attempt + 1),
            "job.start_time.iso_date": start.date().isoformat(),
            "job.start_time.iso_datetime": start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z",
            "job.start_time.timestamp_ms": str(self.start_time_ms),
            "job.start_time.year": str(start.year), "job.start_time.month": str(start.month),
            "job.start_time.day": str(start.day), "job.start_time.hour": str(start.hour),
            "job.start_time.minute": str(start.minute), "job.start_time.second": str(start.second),
            "workspace.id": self.workspace,
            # the legacy names
            "job_id": str(self.job_id), "run_id": str(self.run_id),
            "start_date": start.date().isoformat(), "task_key": self.task_key,
        }
        if ref in simple:
            return simple[ref]
        if parts[0] == "input" and self.input is not None:
            value = self.input
            for p in parts[1:]:
                if not isinstance(value, dict) or p not in value:
                    raise KilnError(f"for_each input has no field {p!r} ({{{{{ref}}}}})")
                value = value[p]
            return value if isinstance(value, str) else json.dumps(value)
        if len(parts) >= 3 and parts[0] == "job" and parts[1] == "parameters":
            name = ".".join(parts[2:])
            if name in self.parameters:
                return self.parameters[name]
            raise KilnError(f"unknown job parameter in {{{{{ref}}}}}")
        if len(parts) >= 4 and parts[0] == "tasks" and parts[2] == "values":
            values = self.task_values.get(parts[1])
            if values is None or parts[3] not in values:
                raise KilnError(f"task value {{{{{ref}}}}} was not set by task {parts[1]}")
            v = values[parts[3]]
            return v if isinstance(v, str) else json.dumps(v)
        raise KilnError(f"unknown dynamic value reference {{{{{ref}}}}}")


def substitute(obj: Any, ctx: RunContext) -> Any:
    """Replace ``{{...}}`` references in every string of ``obj``."""
    if isinstance(obj, str):
        return _REF.sub(lambda m: ctx.lookup(m.group(1)), obj) if "{{" in obj else obj
    if isinstance(obj, dict):
        return {k: substitute(v, ctx) for k, v in obj.items()}
    if isinstance(obj, list):
        return [substitute(v, ctx) for v in obj]
    return obj
