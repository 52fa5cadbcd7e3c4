from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devtools.broker.cron import CronError, Schedule


def test_every_minute_fires_at_the_next_whole_minute() -> None:
    moment = datetime(2026, 1, 1, 10, 0, 30, tzinfo=UTC)
    assert Schedule.parse("* * * * *").next_after(moment) == moment.replace(minute=1, second=0)


def test_six_fields_put_seconds_first() -> None:
    moment = datetime(2026, 1, 1, 10, 0, 1, tzinfo=UTC)
    assert Schedule.parse("*/10 * * * * *").next_after(moment).second == 10


def test_ranges_steps_lists_and_macros() -> None:
    schedule = Schedule.parse("0,30 9-17/4 * * 1-5")
    assert schedule.hours == {9, 13, 17}
    assert schedule.minutes == {0, 30}
    assert Schedule.parse("@hourly").minutes == {0}
    sunday = datetime(2026, 1, 4, 9, 0, tzinfo=UTC)
    assert not schedule.matches(sunday)
    assert schedule.matches(sunday.replace(day=5))


@pytest.mark.parametrize("text", ["* * * *", "61 * * * *", "*/x * * * *", "5-1 * * * *"])
def test_bad_schedules_are_refused(text: str) -> None:
    with pytest.raises(CronError):
        Schedule.parse(text)
