"""Business-hours calendars: opening ranges in a time zone, holidays, and promises in plain words."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# A ticket that falls into a year of closures would loop for ever; no real calendar is shut that long.
_MAX_DAYS_AHEAD = 800
_CACHED_DAYS = 4096


def _parse_clock(text: str) -> time:
    hours, _, minutes = text.partition(":")
    if hours == "24" and int(minutes or 0) == 0:
        return time.max
    return time(int(hours), int(minutes or 0))


@dataclass(frozen=True)
class BusinessCalendar:
    """Weekly opening ranges (0 = Monday; several ranges a day allowed), closed dates, and a time zone.

    `weekly=None` means open around the clock. `is_holiday` is any predicate on a local date
    (for instance the `holidays` package's lookup), so this module needs no third-party import.
    """

    time_zone: str
    weekly: Mapping[int, tuple[tuple[str, str], ...]] | None
    closed_dates: frozenset[date] = frozenset()
    is_holiday: Callable[[date], bool] = field(default=lambda _day: False, compare=False)
    # A day's ranges in UTC, computed once: promises, warnings and clocks ask about the same days.
    _ranges: dict[date, list[tuple[datetime, datetime]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def _open_ranges(self, day: date) -> list[tuple[datetime, datetime]]:
        cached = self._ranges.get(day)
        if cached is None:
            if len(self._ranges) > _CACHED_DAYS:
                self._ranges.clear()
            cached = self._ranges[day] = self._compute_ranges(day)
        return cached

    def _compute_ranges(self, day: date) -> list[tuple[datetime, datetime]]:
        if self.weekly is None:
            return []
        if day in self.closed_dates or self.is_holiday(day):
            return []
        zone = self.zone
        ranges = []
        for opens, closes in self.weekly.get(day.weekday(), ()):
            start = datetime.combine(day, _parse_clock(opens), zone).astimezone(UTC)
            end_clock = _parse_clock(closes)
            if end_clock == time.max:
                end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
            else:
                end = datetime.combine(day, end_clock, zone).astimezone(UTC)
            if end > start:
                ranges.append((start, end))
        return sorted(ranges)

    def add_business_minutes(self, start: datetime, minutes: float) -> datetime:
        """The moment `minutes` of opening time after `start` (aware datetime), in UTC."""
        start = start.astimezone(UTC)
        if self.weekly is None:
            return start + timedelta(minutes=minutes)
        remaining = timedelta(minutes=minutes)
        day = start.astimezone(self.zone).date()
        for _ in range(_MAX_DAYS_AHEAD):
            for opens, closes in self._open_ranges(day):
                if closes <= start:
                    continue
                begin = max(opens, start)
                available = closes - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
            day += timedelta(days=1)
        raise ValueError("calendar has no opening hours in the next two years")

    def business_minutes_between(self, start: datetime, end: datetime) -> float:
        """Opening time between two moments, in minutes (0 when end <= start)."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end <= start:
            return 0.0
        if self.weekly is None:
            return (end - start).total_seconds() / 60
        total = timedelta()
        day = start.astimezone(self.zone).date()
        last = end.astimezone(self.zone).date()
        while day <= last:
            for opens, closes in self._open_ranges(day):
                overlap = min(closes, end) - max(opens, start)
                if overlap > timedelta():
                    total += overlap
            day += timedelta(days=1)
        return total.total_seconds() / 60

    def day_minutes(self) -> float:
        """Opening minutes of a typical open day (the median over the week's open days): the length of
        "one business day" in reports. Around the clock, a day is 1,440 minutes."""
        if self.weekly is None:
            return 1440.0
        lengths = []
        for ranges in self.weekly.values():
            total = sum(_minutes_of(closes) - _minutes_of(opens) for opens, closes in ranges)
            if total > 0:
                lengths.append(total)
        if not lengths:
            return 0.0
        lengths.sort()
        return float(lengths[len(lengths) // 2])


def _minutes_of(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes or 0)


def describe_promise(due: datetime, now: datetime, time_zone: str) -> str:
    """A due time as a customer reads it: "today 14:00", "Tuesday 10:00", "Monday 5 January 09:00",
    always followed by the zone, e.g. "Tuesday 10:00 (Europe/Berlin)"."""
    zone = ZoneInfo(time_zone)
    local_due, local_now = due.astimezone(zone), now.astimezone(zone)
    days = (local_due.date() - local_now.date()).days
    clock = local_due.strftime("%H:%M")
    if days <= 0:
        when = f"today {clock}"
    elif days == 1:
        when = f"tomorrow {clock}"
    elif days < 7:
        when = f"{local_due.strftime('%A')} {clock}"
    else:
        when = f"{local_due.strftime('%A')} {local_due.day} {local_due.strftime('%B')} {clock}"
    return f"{when} ({time_zone})"
