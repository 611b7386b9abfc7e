"""``condition_task``: compare two resolved values. Pure.

EQUAL_TO and NOT_EQUAL compare strings; the others compare numbers (an operand that is
not a number is an error), as the Jobs API specifies.
"""

from __future__ import annotations

from kiln.errors import KilnError

_NUMERIC = {
    "GREATER_THAN": lambda a, b: a > b,
    "GREATER_THAN_OR_EQUAL": lambda a, b: a >= b,
    "LESS_THAN": lambda a, b: a < b,
    "LESS_THAN_OR_EQUAL": lambda a, b: a <= b,
}


def evaluate(op: str, left: str, right: str) -> bool:
    if op == "EQUAL_TO":
        return left == right
    if op == "NOT_EQUAL":
        return left != right
    if op not in _NUMERIC:
        raise KilnError(f"unknown condition operator {op}")
    try:
        a, b = float(left), float(right)
    except ValueError:
        raise KilnError(f"condition {op} compares numbers, got {left!r} and {right!r}") from None
    return bool(_NUMERIC[op](a, b))
