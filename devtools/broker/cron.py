"""Cron schedules as PingSource reads them: five fields (or six, with seconds first) and macros."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_RANGES = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


class CronError(ValueError):
    pass


@dataclass(frozen=True)
class Schedule:
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    @classmethod
    def parse(cls, text: str) -> Schedule:
        text = _MACROS.get(text.strip(), text.strip())
        fields = text.split()
        if len(fields) == 5:
            fields = ["0", *fields]
        if len(fields) != 6:
            raise CronError(f"a schedule has 5 or 6 fields, got {text!r}")
        sets = [_field(f, low, high) for f, (low, high) in zip(fields, _RANGES, strict=True)]
        weekdays = frozenset(d % 7 for d in sets[5])
        return cls(sets[0], sets[1], sets[2], sets[3], sets[4], weekdays)

    def matches(self, moment: datetime) -> bool:
        return (
            moment.second in self.seconds
            and moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.day in self.days
            and moment.month in self.months
            and (moment.isoweekday() % 7) in self.weekdays
        )

    def next_after(self, moment: datetime) -> datetime:
        candidate = moment.replace(microsecond=0) + timedelta(seconds=1)
        for _ in range(366 * 24 * 3600):
            if self.matches(candidate):
                return candidate
            if candidate.second not in self.seconds or candidate.minute in self.minutes:
                candidate += timedelta(seconds=1)
            else:
                candidate = candidate.replace(second=0) + timedelta(minutes=1)
        raise CronError("schedule never fires")


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else 1
        if step_text and not step_text.isdigit():
            raise CronError(f"bad step in {text!r}")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = _number(first, low, high + 1), _number(last, low, high + 1)
        else:
            start = _number(base, low, high + 1)
            end = high if step_text else start
        if start > end or step < 1:
            raise CronError(f"bad range in {text!r}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _number(text: str, low: int, high: int) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise CronError(f"{text!r} is outside {low}-{high}")
    return int(text)
