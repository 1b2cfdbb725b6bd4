"""Builds the store's BusinessCalendar from settings, with public holidays from the `holidays` package."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date

from chalicelib.config import BusinessHoursSettings
from chalicelib.domain.calendar import BusinessCalendar


def holiday_lookup(country: str | None, subdivision: str | None) -> Callable[[date], bool]:
    if not country:
        return lambda _day: False
    import holidays  # deferred: only calendars that name a country pay for it

    table = holidays.country_holidays(country, subdiv=subdivision)
    return lambda day: day in table


def business_calendar(time_zone: str, hours: BusinessHoursSettings) -> BusinessCalendar:
    return BusinessCalendar(
        time_zone=time_zone,
        weekly=hours.weekly,
        closed_dates=frozenset(date.fromisoformat(d) for d in hours.closed_dates),
        is_holiday=holiday_lookup(hours.holiday_country, hours.holiday_subdivision),
    )
