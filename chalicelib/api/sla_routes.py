"""HTTP routes of SLA configuration (/sla/calendars, /sla/policies) and the SLA report (/reports/sla)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Response

from chalicelib.api.endpoint import endpoint, responds, shop
from chalicelib.domain.principals import Principal, Role

if TYPE_CHECKING:
    from chalicelib.api import models
    from chalicelib.services.sla_config import SlaConfigDeps


def _deps() -> SlaConfigDeps:
    return shop().sla_config()


def _slug(value: str) -> str:
    from chalicelib.domain.errors import NotFound
    from chalicelib.domain.sla_config import SLUG

    if not SLUG.match(value or ""):
        raise NotFound("no such calendar or policy")
    return value


def calendar_out(spec: Any) -> dict[str, Any]:
    data: dict[str, Any] = spec.to_dict()
    return data


def policy_out(policy: Any) -> dict[str, Any]:
    data: dict[str, Any] = policy.to_dict()
    data["warning"] = {"minutes_before": data.pop("warn_minutes_before"), "percent": data.pop("warn_percent")}
    return data


# ---- calendars -------------------------------------------------------------------------------
@endpoint("/sla/calendars", ["GET"], role=Role.AGENT)
@responds("CalendarListOut")
def list_sla_calendars(_principal: Principal, _request: Any) -> dict[str, Any]:
    from chalicelib.services.sla_config import list_calendars

    return {"items": [calendar_out(c) for c in list_calendars(_deps())]}


@endpoint("/sla/calendars/{name}", ["PUT"], role=Role.MANAGER)
@responds("CalendarOut")
def put_sla_calendar(principal: Principal, _request: Any, name: str, body: models.CalendarBody) -> dict[str, Any]:
    """Create or replace a calendar (send the version you saw to replace one)."""
    from chalicelib.domain.sla_config import CalendarSpec
    from chalicelib.services.sla_config import save_calendar

    spec = CalendarSpec(
        name=_slug(name), time_zone=body.time_zone,
        weekly=None if body.weekly is None else {int(day): tuple((r[0], r[1]) for r in ranges)
                                                 for day, ranges in body.weekly.items()},
        holiday_country=body.holiday_country, holiday_subdivision=body.holiday_subdivision,
        closed_dates=tuple(body.closed_dates),
    )
    return calendar_out(save_calendar(spec, body.version, principal, _deps()))


@endpoint("/sla/calendars/{name}", ["DELETE"], role=Role.MANAGER, status=204)
def delete_sla_calendar(principal: Principal, _request: Any, name: str) -> Response:
    from chalicelib.services.sla_config import delete_calendar

    delete_calendar(_slug(name), principal, _deps())
    return Response(body="", status_code=204)


# ---- policies --------------------------------------------------------------------------------
@endpoint("/sla/policies", ["GET"], role=Role.AGENT)
@responds("PolicyListOut")
def list_sla_policies(_principal: Principal, _request: Any) -> dict[str, Any]:
    """Policies in the order they are tried (first match wins; the default last)."""
    from chalicelib.services.sla_config import list_policies

    return {"items": [policy_out(p) for p in list_policies(_deps())]}


@endpoint("/sla/policies/{policy_id}", ["PUT"], role=Role.MANAGER)
@responds("PolicyOut")
def put_sla_policy(principal: Principal, _request: Any, policy_id: str, body: models.PolicyBody) -> dict[str, Any]:
    """Create or replace a policy (send the version you saw to replace one)."""
    from chalicelib.domain.sla_config import Escalation, SlaPolicy
    from chalicelib.services.sla_config import save_policy

    warning = body.warning
    policy = SlaPolicy(
        id=_slug(policy_id), name=body.name, calendar=body.calendar, position=body.position,
        queues=tuple(body.queues), priorities=tuple(body.priorities),
        first_response_minutes=body.first_response_minutes, next_response_minutes=body.next_response_minutes,
        resolution_minutes=body.resolution_minutes,
        warn_minutes_before=warning.minutes_before if warning else None,
        warn_percent=warning.percent if warning else None,
        escalation=Escalation(**body.escalation.model_dump()), auto_close_days=body.auto_close_days,
    )
    return policy_out(save_policy(policy, body.version, principal, _deps()))


@endpoint("/sla/policies/{policy_id}", ["DELETE"], role=Role.MANAGER, status=204)
def delete_sla_policy(principal: Principal, _request: Any, policy_id: str) -> Response:
    from chalicelib.services.sla_config import delete_policy

    delete_policy(_slug(policy_id), principal, _deps())
    return Response(body="", status_code=204)


# ---- report ----------------------------------------------------------------------------------
@endpoint("/reports/sla", ["GET"], role=Role.AGENT)
@responds("SlaReportOut")
def sla_report(principal: Principal, request: Any) -> dict[str, Any]:
    """Per target: count, share attained, p50/p75/p90/p100 business minutes; per agent for managers."""
    from chalicelib.services.sla_report import parse_report_query
    from chalicelib.services.sla_report import sla_report as run

    current = shop()
    query = parse_report_query(dict(request.query_params or {}), principal, current.settings, current.clock.now())
    return run(query, principal, current.sla_repository)
