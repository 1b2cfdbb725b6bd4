"""Use cases of SLA configuration: managers read, save (validated, versioned) and delete calendars and policies."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from chalicelib.config import Settings
from chalicelib.domain.errors import InvalidInput, NotFound, Unavailable, VersionConflict
from chalicelib.domain.ids import iso
from chalicelib.domain.principals import Principal
from chalicelib.domain.sla_config import (
    DEFAULT,
    CalendarSpec,
    SlaPolicy,
    ordered,
    validate_calendar,
    validate_policy,
)
from chalicelib.ports import Clock, SlaRepository
from chalicelib.services.sla_rules import SlaRules, SlaSetup


@dataclass
class SlaConfigDeps:
    repository: SlaRepository
    setup: SlaSetup
    clock: Clock
    settings: Settings
    check_holidays: Callable[[str | None, str | None], None] = lambda _country, _subdivision: None


def _rules(deps: SlaConfigDeps) -> SlaRules:
    return SlaRules(replace(deps.setup, repository=deps.repository), deps.settings)


def list_calendars(deps: SlaConfigDeps) -> list[CalendarSpec]:
    return sorted(_rules(deps).calendars().values(), key=lambda c: (c.name != DEFAULT, c.name))


def list_policies(deps: SlaConfigDeps) -> list[SlaPolicy]:
    return ordered(_rules(deps).policies())


def _expected(current_version: int | None, given: int | None, what: str) -> int:
    """The version a save is conditional on; `given` None means "create" (or the unstored default)."""
    if given is None:
        if current_version:
            raise VersionConflict(f"{what} exists; send the version you saw to change it")
        return 0
    if given != (current_version or 0):
        raise VersionConflict(f"{what} changed since you saw it (now version {current_version or 0})")
    return given


def save_calendar(spec: CalendarSpec, version: int | None, principal: Principal, deps: SlaConfigDeps) -> CalendarSpec:
    checked = validate_calendar(spec)
    deps.check_holidays(checked.holiday_country, checked.holiday_subdivision)
    current = _rules(deps).calendars().get(checked.name)
    expected = _expected(current.version if current else None, version, f"calendar {checked.name}")
    stamped = replace(checked, updated_by=principal.user_id, updated_at=iso(deps.clock.now()))
    return deps.repository.save_calendar(stamped, expected)


def delete_calendar(name: str, principal: Principal, deps: SlaConfigDeps) -> None:
    del principal  # the route requires a manager; kept for symmetry with the other use cases
    if name == DEFAULT:
        raise InvalidInput("the default calendar cannot be deleted (change it instead)", "name")
    rules = _rules(deps)
    if name not in rules.calendars():
        raise NotFound(f"no calendar named {name[:40]!r}")
    users = [p.id for p in rules.policies() if p.calendar == name]
    if users:
        raise Unavailable(f"calendar {name} is used by policy {users[0]}")
    deps.repository.delete_calendar(name)


def save_policy(policy: SlaPolicy, version: int | None, principal: Principal, deps: SlaConfigDeps) -> SlaPolicy:
    rules = _rules(deps)
    checked = validate_policy(policy, queues=set(deps.settings.support_addresses.values()),
                              calendars=set(rules.calendars()))
    current = next((p for p in rules.policies() if p.id == checked.id), None)
    expected = _expected(current.version if current else None, version, f"policy {checked.id}")
    stamped = replace(checked, updated_by=principal.user_id, updated_at=iso(deps.clock.now()))
    return deps.repository.save_policy(stamped, expected)


def delete_policy(policy_id: str, principal: Principal, deps: SlaConfigDeps) -> None:
    del principal
    if policy_id == DEFAULT:
        raise InvalidInput("the default policy cannot be deleted (change it instead)", "id")
    if not any(p.id == policy_id for p in _rules(deps).policies()):
        raise NotFound(f"no policy {policy_id[:40]!r}")
    deps.repository.delete_policy(policy_id)
