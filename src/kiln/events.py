"""What engines report while they work (deploys, runs); the CLI renders these events,
tests collect them, stores record them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    kind: str  # deploy: building | built | uploading | files | applying | created |
    #   updated | deleted | recreated | recovered | complete; runs: run | task | done
    message: str
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[Event], None]


def ignore(_event: Event) -> None:
    pass
