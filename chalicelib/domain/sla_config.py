"""SLA calendars and policies: validation, first-match choice, and the terms a ticket's clock runs on."""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.domain.calendar import BusinessCalendar
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.workflow import PRIORITIES

DEFAULT = "default"  # the calendar and the policy that always exist
METRICS = ("first_response", "next_response", "resolution")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_CLOCK = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")
MAX_TARGET_MINUTES = 366 * 24 * 60
MAX_RANGES_PER_DAY = 6
MAX_CLOSED_DATES = 400
ON_DUTY = "on_duty"  # escalation assignee meaning "the manager on duty" (a setting)

CalendarFactory = Callable[["CalendarSpec"], BusinessCalendar]


@dataclass(frozen=True)
class CalendarSpec:
    """A named business calendar: time zone, weekly ranges (0 = Monday; several a day for split
    shifts; None = around the clock), public holidays by country/subdivision, and closed dates."""

    name: str
    time_zone: str
    weekly: Mapping[int, tuple[tuple[str, str], ...]] | None
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    closed_dates: tuple[str, ...] = ()
    version: int = 0  # 0: not stored yet (the default seeded from the environment)
    updated_by: str = ""
    updated_at: str = ""

    def rules(self) -> dict[str, Any]:
        """What the calendar computes with (no bookkeeping), as plain JSON-safe data."""
        return {
            "name": self.name, "time_zone": self.time_zone,
            "weekly": None if self.weekly is None else {
                str(day): [list(r) for r in ranges] for day, ranges in sorted(self.weekly.items())},
            "holiday_country": self.holiday_country, "holiday_subdivision": self.holiday_subdivision,
            "closed_dates": list(self.closed_dates),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.rules(), "version": self.version, "updated_by": self.updated_by,
                "updated_at": self.updated_at}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CalendarSpec:
        weekly = data.get("weekly")
        return cls(
            name=str(data["name"]), time_zone=str(data["time_zone"]),
            weekly=None if weekly is None else {
                int(day): tuple((str(a), str(b)) for a, b in ranges) for day, ranges in weekly.items()},
            holiday_country=data.get("holiday_country") or None,
            holiday_subdivision=data.get("holiday_subdivision") or None,
            closed_dates=tuple(str(d) for d in data.get("closed_dates") or ()),
            version=int(data.get("version") or 0), updated_by=str(data.get("updated_by") or ""),
            updated_at=str(data.get("updated_at") or ""),
        )

    def cache_key(self) -> str:
        return json.dumps(self.rules(), sort_keys=True)

    def calendar(self, is_holiday: Callable[[date], bool] | None = None) -> BusinessCalendar:
        return BusinessCalendar(
            time_zone=self.time_zone, weekly=self.weekly,
            closed_dates=frozenset(date.fromisoformat(d) for d in self.closed_dates),
            **({"is_holiday": is_holiday} if is_holiday is not None else {}),
        )


def plain_calendar(spec: CalendarSpec) -> BusinessCalendar:
    """A calendar without public holidays (for callers that have no holiday source)."""
    return spec.calendar()


@dataclass(frozen=True)
class Escalation:
    """What a breach does besides the alert: raise priority one step, move queue, assign someone."""

    raise_priority: bool = True
    queue: str | None = None
    assignee: str | None = None  # a user id, or ON_DUTY

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Escalation:
        data = data or {}
        return cls(raise_priority=bool(data.get("raise_priority", True)), queue=data.get("queue") or None,
                   assignee=data.get("assignee") or None)


@dataclass(frozen=True)
class SlaPolicy:
    """Targets in business minutes on a named calendar, for the tickets it matches (empty = any)."""

    id: str
    name: str
    calendar: str = DEFAULT
    position: int = 100  # policies are tried in ascending position; the default always last
    queues: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    first_response_minutes: int | None = None
    next_response_minutes: int | None = None
    resolution_minutes: int | None = None
    warn_minutes_before: int | None = None
    warn_percent: int | None = None
    escalation: Escalation = field(default_factory=Escalation)
    auto_close_days: int = 5
    version: int = 0
    updated_by: str = ""
    updated_at: str = ""

    @property
    def is_default(self) -> bool:
        return self.id == DEFAULT

    def matches(self, queue: str, priority: str) -> bool:
        if self.is_default:
            return True
        return (not self.queues or queue in self.queues) and (not self.priorities or priority in self.priorities)

    def target(self, metric: str) -> int | None:
        value: int | None = getattr(self, f"{metric}_minutes")
        return value

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["queues"], data["priorities"] = list(self.queues), list(self.priorities)
        data["escalation"] = self.escalation.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlaPolicy:
        def number(name: str) -> int | None:
            value = data.get(name)
            return None if value is None else int(value)

        return cls(
            id=str(data["id"]), name=str(data.get("name") or data["id"]),
            calendar=str(data.get("calendar") or DEFAULT), position=int(data.get("position", 100)),
            queues=tuple(data.get("queues") or ()), priorities=tuple(data.get("priorities") or ()),
            first_response_minutes=number("first_response_minutes"),
            next_response_minutes=number("next_response_minutes"),
            resolution_minutes=number("resolution_minutes"),
            warn_minutes_before=number("warn_minutes_before"), warn_percent=number("warn_percent"),
            escalation=Escalation.from_dict(data.get("escalation")),
            auto_close_days=int(data.get("auto_close_days", 5)), version=int(data.get("version") or 0),
            updated_by=str(data.get("updated_by") or ""), updated_at=str(data.get("updated_at") or ""),
        )


def ordered(policies: Iterable[SlaPolicy]) -> list[SlaPolicy]:
    """The order policies are tried in: by position, then id; the default last."""
    return sorted(policies, key=lambda p: (p.is_default, p.position, p.id))


def match_policy(policies: Iterable[SlaPolicy], queue: str, priority: str) -> SlaPolicy:
    """First match wins; the default matches everything, so there is always one."""
    for policy in ordered(policies):
        if policy.matches(queue, priority):
            return policy
    raise LookupError("no default SLA policy")  # callers always include the default


# ---- validation ------------------------------------------------------------------------------------
def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def validate_calendar(spec: CalendarSpec) -> CalendarSpec:
    """The spec, normalized (ranges sorted, dates sorted and unique), or InvalidInput naming the field."""
    if not SLUG.match(spec.name):
        raise InvalidInput("a calendar name is 1-40 characters of a-z, 0-9, '-' and '_'", "name")
    try:
        ZoneInfo(spec.time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput("time_zone is not an IANA time zone (e.g. Europe/Berlin)", "time_zone") from exc
    weekly = None
    if spec.weekly is not None:
        weekly = {}
        for day, ranges in spec.weekly.items():
            if day not in range(7):
                raise InvalidInput("weekly days are 0 (Monday) to 6 (Sunday)", "weekly")
            if len(ranges) > MAX_RANGES_PER_DAY:
                raise InvalidInput(f"at most {MAX_RANGES_PER_DAY} ranges a day", "weekly")
            for opens, closes in ranges:
                if not (_CLOCK.match(opens) and _CLOCK.match(closes)) or _minutes(opens) >= _minutes(closes):
                    raise InvalidInput("each range is [\"HH:MM\", \"HH:MM\"], opening before closing", "weekly")
            ordered_ranges = tuple(sorted(ranges, key=lambda r: _minutes(r[0])))
            for before, after in pairwise(ordered_ranges):
                if _minutes(after[0]) < _minutes(before[1]):
                    raise InvalidInput("ranges of a day must not overlap", "weekly")
            if ordered_ranges:
                weekly[day] = ordered_ranges
        if not weekly:
            raise InvalidInput("a calendar needs opening hours on at least one day (or weekly: null for 24/7)",
                               "weekly")
    country = spec.holiday_country.upper() if spec.holiday_country else None
    if country is not None and not re.fullmatch(r"[A-Z]{2,3}", country):
        raise InvalidInput("holiday_country is an ISO 3166 code such as DE", "holiday_country")
    subdivision = spec.holiday_subdivision.upper() if spec.holiday_subdivision else None
    if subdivision is not None and (country is None or not re.fullmatch(r"[A-Z0-9-]{1,10}", subdivision)):
        raise InvalidInput("holiday_subdivision needs holiday_country and is a code such as BY",
                           "holiday_subdivision")
    if len(spec.closed_dates) > MAX_CLOSED_DATES:
        raise InvalidInput(f"at most {MAX_CLOSED_DATES} closed dates", "closed_dates")
    try:
        closed = sorted({date.fromisoformat(d).isoformat() for d in spec.closed_dates})
    except ValueError as exc:
        raise InvalidInput("closed_dates are YYYY-MM-DD", "closed_dates") from exc
    return replace(spec, weekly=weekly, holiday_country=country, holiday_subdivision=subdivision,
                   closed_dates=tuple(closed))


def validate_policy(policy: SlaPolicy, *, queues: set[str], calendars: set[str]) -> SlaPolicy:
    """Checks a policy against the known queues and calendars; InvalidInput names the field."""
    if not SLUG.match(policy.id):
        raise InvalidInput("a policy id is 1-40 characters of a-z, 0-9, '-' and '_'", "id")
    if not policy.name.strip() or len(policy.name) > 100:
        raise InvalidInput("name is 1 to 100 characters", "name")
    if policy.calendar not in calendars:
        raise InvalidInput(f"no calendar named {policy.calendar[:40]!r}", "calendar")
    if policy.is_default and (policy.queues or policy.priorities):
        raise InvalidInput("the default policy matches every ticket: it takes no queues or priorities", "queues")
    if unknown := set(policy.queues) - queues:
        raise InvalidInput(f"unknown queue {sorted(unknown)[0][:40]!r}", "queues")
    if unknown := set(policy.priorities) - set(PRIORITIES):
        raise InvalidInput(f"priorities are {', '.join(PRIORITIES)}", "priorities")
    targets = [policy.target(m) for m in METRICS]
    if all(t is None for t in targets):
        raise InvalidInput("a policy sets at least one target", "first_response_minutes")
    for metric, target in zip(METRICS, targets, strict=True):
        if target is not None and not 1 <= target <= MAX_TARGET_MINUTES:
            raise InvalidInput(f"targets are 1 to {MAX_TARGET_MINUTES} business minutes", f"{metric}_minutes")
    if policy.warn_minutes_before is not None and policy.warn_percent is not None:
        raise InvalidInput("warn either minutes before or at a percentage, not both", "warning")
    if policy.warn_minutes_before is not None and not 1 <= policy.warn_minutes_before <= MAX_TARGET_MINUTES:
        raise InvalidInput("warning minutes_before is at least 1", "warning")
    if policy.warn_percent is not None and not 1 <= policy.warn_percent <= 99:
        raise InvalidInput("warning percent is 1 to 99", "warning")
    if policy.escalation.queue is not None and policy.escalation.queue not in queues:
        raise InvalidInput("unknown escalation queue", "escalation.queue")
    if policy.escalation.assignee is not None and not 0 < len(policy.escalation.assignee) <= 128:
        raise InvalidInput("escalation assignee is a user id or on_duty", "escalation.assignee")
    if not 1 <= policy.auto_close_days <= 90:
        raise InvalidInput("auto_close_days is 1 to 90", "auto_close_days")
    return replace(policy, name=policy.name.strip(), queues=tuple(sorted(set(policy.queues))),
                   priorities=tuple(p for p in PRIORITIES if p in policy.priorities))


# ---- terms: what a ticket's clock runs on ------------------------------------------------------------
@dataclass(frozen=True)
class SlaTerms:
    """A copy of the matched policy and its calendar, recorded on the ticket (and in an `sla_applied`
    event), so a clock is reproducible from the ticket's own history whatever changes later."""

    policy_id: str
    policy_version: int
    calendar: CalendarSpec
    targets: Mapping[str, int | None]
    warn_minutes_before: int | None = None
    warn_percent: int | None = None
    escalation: Escalation = field(default_factory=Escalation)
    auto_close_days: int = 5

    def target(self, metric: str) -> int | None:
        return self.targets.get(metric)

    def warn_threshold_seconds(self, metric: str) -> int | None:
        """Business seconds of elapsed time at which a warning is due (None: no warning)."""
        target = self.target(metric)
        if target is None:
            return None
        if self.warn_percent is not None:
            return target * 60 * self.warn_percent // 100
        if self.warn_minutes_before is not None:
            return max(0, (target - self.warn_minutes_before) * 60)
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy_id": self.policy_id, "policy_version": self.policy_version,
            "calendar": self.calendar.rules(), "targets": dict(self.targets),
            "warn_minutes_before": self.warn_minutes_before, "warn_percent": self.warn_percent,
            "escalation": self.escalation.to_dict(), "auto_close_days": self.auto_close_days,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlaTerms:
        def number(value: Any) -> int | None:
            return None if value is None else int(value)

        return cls(
            policy_id=str(data["policy_id"]), policy_version=int(data.get("policy_version") or 0),
            calendar=CalendarSpec.from_dict(data["calendar"]),
            targets={m: number((data.get("targets") or {}).get(m)) for m in METRICS},
            warn_minutes_before=number(data.get("warn_minutes_before")),
            warn_percent=number(data.get("warn_percent")),
            escalation=Escalation.from_dict(data.get("escalation")),
            auto_close_days=int(data.get("auto_close_days") or 5),
        )


def terms_of(policy: SlaPolicy, calendar: CalendarSpec) -> SlaTerms:
    return SlaTerms(
        policy_id=policy.id, policy_version=policy.version, calendar=calendar,
        targets={m: policy.target(m) for m in METRICS}, warn_minutes_before=policy.warn_minutes_before,
        warn_percent=policy.warn_percent, escalation=policy.escalation, auto_close_days=policy.auto_close_days,
    )
