"""What a deploy reports while it works; the CLI renders these, tests collect them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    kind: str  # building | built | uploading | files | applying | created | updated |
    #            deleted | recreated | recovered | complete | destroying
    message: str
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[Event], None]


def ignore(_event: Event) -> None:
    pass
