"""Calendar specs: split shifts, public holidays, DST, Friday-evening mail, and their validation."""
from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib.adapters.holiday_calendar import calendar_from_spec, check_holidays
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.sla_config import CalendarSpec, validate_calendar

BERLIN = "Europe/Berlin"
WEEKDAYS = {d: (("09:00", "17:00"),) for d in range(5)}
SPLIT = {d: (("08:00", "12:00"), ("14:00", "18:00")) for d in range(5)}


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(BERLIN))  # type: ignore[misc]


def spec(**overrides: object) -> CalendarSpec:
    values: dict[str, object] = {"name": "store", "time_zone": BERLIN, "weekly": WEEKDAYS}
    values.update(overrides)
    return CalendarSpec(**values)  # type: ignore[arg-type]


def test_split_shift_skips_the_lunch_break_and_the_night() -> None:
    calendar = calendar_from_spec(spec(weekly=SPLIT))
    # Tuesday 11:00 + 3 h: one hour before lunch, two after it.
    assert calendar.add_business_minutes(berlin(2026, 11, 24, 11, 0), 180) == berlin(2026, 11, 24, 16, 0)
    # Tuesday 17:00 + 3 h: one hour until 18:00, then Wednesday 08:00 + 2 h.
    assert calendar.add_business_minutes(berlin(2026, 11, 24, 17, 0), 180) == berlin(2026, 11, 25, 10, 0)
    assert calendar.business_minutes_between(berlin(2026, 11, 24, 11, 0), berlin(2026, 11, 24, 15, 0)) == 120
    assert calendar.day_minutes() == 480


def test_friday_evening_mail_before_easter_waits_for_tuesday() -> None:
    # Good Friday (3 April 2026) and Easter Monday (6 April) are public holidays in Germany.
    calendar = calendar_from_spec(spec(holiday_country="DE"))
    due = calendar.add_business_minutes(berlin(2026, 4, 2, 18, 30), 240)
    assert due == berlin(2026, 4, 7, 13, 0)


def test_subdivision_holidays_apply_only_there() -> None:
    epiphany_morning = berlin(2026, 1, 6, 10, 0)  # a holiday in Bavaria, not in Berlin
    bavaria = calendar_from_spec(spec(holiday_country="DE", holiday_subdivision="BY"))
    berlin_state = calendar_from_spec(spec(holiday_country="DE", holiday_subdivision="BE"))
    assert bavaria.add_business_minutes(epiphany_morning, 60) == berlin(2026, 1, 7, 10, 0)
    assert berlin_state.add_business_minutes(epiphany_morning, 60) == berlin(2026, 1, 6, 11, 0)


def test_store_closed_dates_are_skipped() -> None:
    calendar = calendar_from_spec(spec(closed_dates=("2026-11-25",)))
    assert calendar.add_business_minutes(berlin(2026, 11, 24, 16, 0), 120) == berlin(2026, 11, 26, 10, 0)


def test_spring_forward_keeps_local_opening_hours() -> None:
    calendar = calendar_from_spec(spec())
    # Clocks jump from 02:00 to 03:00 on Sunday 29 March 2026; Monday still opens at 09:00 local (07:00 UTC).
    due = calendar.add_business_minutes(berlin(2026, 3, 27, 16, 0), 120)
    assert due == berlin(2026, 3, 30, 10, 0)
    assert due.astimezone(UTC).hour == 8


def test_around_the_clock_counts_real_time_across_the_jump() -> None:
    calendar = calendar_from_spec(spec(weekly=None))
    start = berlin(2026, 3, 29, 1, 30)
    due = calendar.add_business_minutes(start, 120)
    assert due.astimezone(ZoneInfo(BERLIN)).hour == 4  # 01:30 + 2 h of real time is 04:30 CEST
    assert calendar.business_minutes_between(start, due) == 120
    assert calendar.day_minutes() == 1440


@pytest.mark.parametrize(("overrides", "field"), [
    ({"name": "Bad Name"}, "name"),
    ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ({"weekly": {0: (("09:00", "12:00"), ("11:00", "17:00"))}}, "weekly"),
    ({"weekly": {0: (("17:00", "09:00"),)}}, "weekly"),
    ({"weekly": {0: (("9am", "5pm"),)}}, "weekly"),
    ({"weekly": {7: (("09:00", "17:00"),)}}, "weekly"),
    ({"weekly": {}}, "weekly"),
    ({"closed_dates": ("2026-13-01",)}, "closed_dates"),
    ({"holiday_subdivision": "BY"}, "holiday_subdivision"),
    ({"holiday_country": "Germany"}, "holiday_country"),
])
def test_invalid_calendars_name_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as failure:
        validate_calendar(spec(**overrides))
    assert failure.value.field == field


def test_valid_calendar_is_normalized() -> None:
    checked = validate_calendar(spec(weekly={0: (("13:00", "17:00"), ("08:00", "12:00"))},
                                     holiday_country="de", closed_dates=("2026-12-24", "2026-12-24")))
    assert checked.weekly == {0: (("08:00", "12:00"), ("13:00", "17:00"))}
    assert checked.holiday_country == "DE" and checked.closed_dates == ("2026-12-24",)
    assert CalendarSpec.from_dict(checked.to_dict()) == checked


def test_unknown_holiday_regions_are_refused() -> None:
    check_holidays("DE", "BY")
    with pytest.raises(InvalidInput):
        check_holidays("XX", None)
    with pytest.raises(InvalidInput) as failure:
        check_holidays("DE", "ZZ")
    assert failure.value.field == "holiday_subdivision"


def test_calendars_are_built_once_per_rules() -> None:
    first = calendar_from_spec(spec(holiday_country="DE", version=1))
    again = calendar_from_spec(spec(holiday_country="DE", version=2, updated_by="someone"))
    assert first is again
    assert first.is_holiday(date(2026, 10, 3))
