"""Quartz cron expressions, as job ``schedule``s use them. Pure.

Fields: seconds, minutes, hours, day of month, month, day of week, and an optional year.
Supported: ``*``, ``?``, lists ``a,b``, ranges ``a-b``, steps ``*/n`` and ``a/n`` and
``a-b/n``, month and weekday names (``JAN``, ``MON``), ``L`` (last day of the month) and
``nL``/``n#k`` in day of week (last / k-th weekday n of the month). Days of week count
1 = Sunday ... 7 = Saturday, as in Quartz.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiln.errors import KilnError

_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


@dataclass(frozen=True)
class Cron:
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    dom: str  # raw, evaluated per month
    months: frozenset[int]
    dow: str  # raw, evaluated per month
    years: frozenset[int] | None
    expression: str

    def next_after(self, after: dt.datetime) -> dt.datetime:
        """The first fire time strictly after ``after`` (an aware datetime)."""
        tz = after.tzinfo
        local = after.astimezone(tz)
        day = local.date()
        for _ in range(366 * 5):
            if (self.years is None or day.year in self.years) and day.month in self.months \
                    and self._day_matches(day):
                for h in sorted(self.hours):
                    for m in sorted(self.minutes):
                        for s in sorted(self.seconds):
                            cand = dt.datetime(day.year, day.month, day.day, h, m, s, tzinfo=tz)
                            if cand > local:
                                return cand
            day += dt.timedelta(days=1)
        raise KilnError(f"cron expression {self.expression!r} never fires in the next 5 years")

    def _day_matches(self, day: dt.date) -> bool:
        dom_any = self.dom in ("*", "?")
        dow_any = self.dow in ("*", "?")
        dom_ok = dom_any or _dom_matches(self.dom, day)
        dow_ok = dow_any or _dow_matches(self.dow, day)
        return dom_ok and dow_ok


def parse(expression: str) -> Cron:
    parts = expression.split()
    if len(parts) not in (6, 7):
        raise KilnError(f"invalid Quartz cron expression {expression!r}: expected 6 or 7 "
                        "fields (seconds minutes hours day-of-month month day-of-week [year])")
    sec, minute, hour, dom, month, dow = parts[:6]
    if dom != "?" and dow != "?" and not (dom == "*" and dow == "*"):
        raise KilnError(f"invalid Quartz cron expression {expression!r}: one of day-of-month "
                        "and day-of-week must be '?'")
    try:
        return Cron(_field(sec, 0, 59), _field(minute, 0, 59), _field(hour, 0, 23),
                    _check_days(dom, expression), _field(month, 1, 12, _MONTHS),
                    _check_days(dow, expression),
                    _field(parts[6], 1970, 2199) if len(parts) == 7 else None, expression)
    except ValueError as e:
        raise KilnError(f"invalid Quartz cron expression {expression!r}: {e}") from None


def _field(text: str, lo: int, hi: int, names: dict[str, int] | None = None) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_s = part.split("/", 1)
            step = int(step_s)
            if step < 1:
                raise ValueError("a step must be positive")
        if part in ("*", "?"):
            a, b = lo, hi
        elif "-" in part:
            a_s, b_s = part.split("-", 1)
            a, b = _value(a_s, names), _value(b_s, names)
        else:
            a = _value(part, names)
            b = hi if step > 1 or "/" in text else a
        if not (lo <= a <= hi and lo <= b <= hi):
            raise ValueError(f"{part} is outside {lo}-{hi}")
        out.update(range(a, b + 1, step))
    return frozenset(out)


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    return int(text)


def _check_days(text: str, expression: str) -> str:
    return text.upper()


def _dom_matches(text: str, day: dt.date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    if text == "L":
        return day.day == last
    return day.day in _field(text, 1, 31)


def _dow_matches(text: str, day: dt.date) -> bool:
    quartz = (day.isoweekday() % 7) + 1  # Sunday = 1
    last = calendar.monthrange(day.year, day.month)[1]
    for part in text.split(","):
        if "#" in part:
            d, k = part.split("#", 1)
            if quartz == _value(d, _DAYS) and (day.day - 1) // 7 + 1 == int(k):
                return True
        elif part.endswith("L") and len(part) > 1:
            if quartz == _value(part[:-1], _DAYS) and day.day + 7 > last:
                return True
        elif quartz in _field(part, 1, 7, _DAYS):
            return True
    return False


def zone(name: str | None) -> dt.tzinfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise KilnError(f"unknown timezone_id {name!r}") from None
