"""Business-hours arithmetic and promises in plain words, with fixed times."""
from __future__ import annotations

from datetime import UTC, date, datetime

from chalicelib.domain.calendar import BusinessCalendar, describe_promise

BERLIN = "Europe/Berlin"
WEEKDAYS_9_TO_5 = {d: (("09:00", "17:00"),) for d in range(5)}


def berlin(*args: int) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(*args, tzinfo=ZoneInfo(BERLIN))  # type: ignore[misc]


def test_within_opening_hours() -> None:
    calendar = BusinessCalendar(BERLIN, WEEKDAYS_9_TO_5)
    assert calendar.add_business_minutes(berlin(2026, 11, 24, 10, 0), 240) == berlin(2026, 11, 24, 14, 0)


def test_friday_evening_rolls_to_monday() -> None:
    calendar = BusinessCalendar(BERLIN, WEEKDAYS_9_TO_5)
    due = calendar.add_business_minutes(berlin(2026, 11, 27, 18, 30), 240)
    assert due == berlin(2026, 11, 30, 13, 0)


def test_split_shift_and_closed_date() -> None:
    split = {d: (("09:00", "12:00"), ("13:00", "17:00")) for d in range(5)}
    calendar = BusinessCalendar(BERLIN, split, closed_dates=frozenset({date(2026, 11, 25)}))
    due = calendar.add_business_minutes(berlin(2026, 11, 24, 11, 0), 120)
    assert due == berlin(2026, 11, 24, 14, 0)
    # Wednesday is closed: from Tuesday 16:00, four hours run to Thursday 12:00.
    assert calendar.add_business_minutes(berlin(2026, 11, 24, 16, 0), 240) == berlin(2026, 11, 26, 12, 0)


def test_holiday_predicate_skips_day() -> None:
    calendar = BusinessCalendar(BERLIN, WEEKDAYS_9_TO_5, is_holiday=lambda d: d == date(2026, 12, 25))
    assert calendar.add_business_minutes(berlin(2026, 12, 24, 16, 0), 120) == berlin(2026, 12, 28, 10, 0)


def test_daylight_saving_change_keeps_local_opening_time() -> None:
    calendar = BusinessCalendar(BERLIN, WEEKDAYS_9_TO_5)
    # Clocks go back on Sunday 25 October 2026; Monday still opens at 09:00 local time.
    due = calendar.add_business_minutes(berlin(2026, 10, 23, 16, 0), 120)
    assert due == berlin(2026, 10, 26, 10, 0)
    assert due.astimezone(UTC).hour == 9


def test_around_the_clock() -> None:
    calendar = BusinessCalendar("UTC", None)
    start = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
    assert calendar.add_business_minutes(start, 90) == datetime(2026, 11, 29, 0, 30, tzinfo=UTC)


def test_business_minutes_between_counts_only_open_time() -> None:
    calendar = BusinessCalendar(BERLIN, WEEKDAYS_9_TO_5)
    assert calendar.business_minutes_between(berlin(2026, 11, 27, 16, 0), berlin(2026, 11, 30, 10, 0)) == 120


def test_promise_in_plain_words() -> None:
    now = berlin(2026, 11, 24, 10, 0)
    assert describe_promise(berlin(2026, 11, 24, 14, 0), now, BERLIN) == "today 14:00 (Europe/Berlin)"
    assert describe_promise(berlin(2026, 11, 25, 9, 30), now, BERLIN) == "tomorrow 09:30 (Europe/Berlin)"
    assert describe_promise(berlin(2026, 11, 27, 10, 0), now, BERLIN) == "Friday 10:00 (Europe/Berlin)"
    assert describe_promise(berlin(2026, 12, 7, 10, 0), now, BERLIN) == "Monday 7 December 10:00 (Europe/Berlin)"
