"""Calendars as the clock computes with them: stored specs built once, public holidays from `holidays`."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date

from chalicelib.domain.calendar import BusinessCalendar
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.sla_config import CalendarSpec


def holiday_lookup(country: str | None, subdivision: str | None) -> Callable[[date], bool]:
    if not country:
        return lambda _day: False
    import holidays  # deferred: only calendars that name a country pay for it

    table = holidays.country_holidays(country, subdiv=subdivision)
    return lambda day: day in table


def check_holidays(country: str | None, subdivision: str | None) -> None:
    """InvalidInput when the `holidays` package knows no such country or subdivision."""
    try:
        holiday_lookup(country, subdivision)
    except NotImplementedError as exc:
        field = "holiday_subdivision" if subdivision else "holiday_country"
        raise InvalidInput(f"no public holidays known for {country}{'-' + subdivision if subdivision else ''}",
                           field) from exc


_BUILT: dict[str, BusinessCalendar] = {}
_MAX_BUILT = 64


def calendar_from_spec(spec: CalendarSpec) -> BusinessCalendar:
    """A stored calendar as the clock computes with it; built once per process and rules (the
    holiday table is the costly part), whatever the spec's version or author."""
    key = spec.cache_key()
    built = _BUILT.get(key)
    if built is None:
        if len(_BUILT) >= _MAX_BUILT:
            _BUILT.clear()
        built = _BUILT[key] = spec.calendar(is_holiday=holiday_lookup(spec.holiday_country,
                                                                      spec.holiday_subdivision))
    return built
