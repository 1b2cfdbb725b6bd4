"""/sla/calendars, /sla/policies and /reports/sla through the HTTP API, the report against hand-computed figures."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import boto3
import pytest

from chalicelib import bootstrap
from chalicelib.adapters.clock import FixedClock
from chalicelib.services.inbound.email_channel import ingest_email
from tests.app.api_support import Api
from tests.conftest import REGION
from tests.support import build_mail, notification

BERLIN = ZoneInfo("Europe/Berlin")
SPLIT_WEEK = {str(d): [["08:00", "12:00"], ["13:00", "17:00"]] for d in range(5)}


@pytest.fixture
def clock(api: Api, fixed_now: datetime) -> Iterator[FixedClock]:
    fixed = FixedClock(fixed_now)  # Tuesday 24 November 2026, 10:00 in Berlin
    with bootstrap.overridden(clock=fixed):
        yield fixed


def test_agents_read_managers_change_policies(api: Api, clock: FixedClock) -> None:
    status, listed = api.call("GET", "/sla/policies")
    assert status == 200
    [default] = listed["items"]
    assert (default["id"], default["version"], default["first_response_minutes"]) == ("default", 0, 240)
    assert default["warning"] == {"minutes_before": 30, "percent": None}
    body = {"name": "Urgent", "position": 10, "priorities": ["urgent"], "first_response_minutes": 60,
            "warning": {"percent": 80}, "escalation": {"raise_priority": False, "queue": "support"}}
    status, _ = api.call("PUT", "/sla/policies/urgent", body, role="agent")
    assert status == 403
    status, created = api.call("PUT", "/sla/policies/urgent", body, role="manager", user="manager-1")
    assert status == 200 and created["version"] == 1 and created["updated_by"] == "manager-1"
    status, stale = api.call("PUT", "/sla/policies/urgent", {**body, "version": 0}, role="manager")
    assert status == 409 and stale["error"]["code"] == "conflict"
    status, _ = api.call("PUT", "/sla/policies/urgent", {**body, "first_response_minutes": 45, "version": 1},
                         role="manager")
    assert status == 200
    status, listed = api.call("GET", "/sla/policies")
    assert [p["id"] for p in listed["items"]] == ["urgent", "default"]
    assert listed["items"][0]["first_response_minutes"] == 45 and listed["items"][0]["version"] == 2
    status, _ = api.call("DELETE", "/sla/policies/default", role="manager")
    assert status == 400
    status, _ = api.call("DELETE", "/sla/policies/urgent", role="manager")
    assert status == 204


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "X", "queues": ["billing"], "first_response_minutes": 5}, "queues"),
    ({"name": "X", "calendar": "nowhere", "first_response_minutes": 5}, "calendar"),
    ({"name": "X", "first_response_minutes": 0}, "first_response_minutes"),
    ({"name": "X", "first_response_minutes": 5, "warning": {"minutes_before": 1, "percent": 50}}, "warning"),
    ({"name": "X", "priorities": ["asap"], "first_response_minutes": 5}, "priorities.0"),
])
def test_invalid_policies_are_400_naming_the_field(api: Api, clock: FixedClock, body: dict[str, object],
                                                   field: str) -> None:
    status, answer = api.call("PUT", "/sla/policies/x", body, role="manager")
    assert status == 400 and answer["error"]["field"] == field


def test_calendars_with_split_shifts_and_regional_holidays(api: Api, clock: FixedClock) -> None:
    body = {"time_zone": "Europe/Berlin", "weekly": SPLIT_WEEK, "holiday_country": "de",
            "holiday_subdivision": "by", "closed_dates": ["2026-12-24"]}
    status, created = api.call("PUT", "/sla/calendars/munich", body, role="manager")
    assert status == 200 and created["holiday_country"] == "DE" and created["version"] == 1
    status, answer = api.call("PUT", "/sla/calendars/mars", {**body, "holiday_country": "XX",
                                                             "holiday_subdivision": None}, role="manager")
    assert status == 400 and answer["error"]["field"] == "holiday_country"
    status, answer = api.call("PUT", "/sla/calendars/late", {"time_zone": "Europe/Berlin",
                                                             "weekly": {"0": [["18:00", "09:00"]]}}, role="manager")
    assert status == 400 and answer["error"]["field"] == "weekly"
    status, listed = api.call("GET", "/sla/calendars")
    assert [c["name"] for c in listed["items"]] == ["default", "munich"]
    policy = {"name": "Munich", "calendar": "munich", "first_response_minutes": 60}
    assert api.call("PUT", "/sla/policies/munich", policy, role="manager")[0] == 200
    assert api.call("DELETE", "/sla/calendars/munich", role="manager")[0] == 422  # in use


def receive(subject: str) -> str:
    raw, _ = build_mail(subject=subject)
    document = notification()
    action = document["receipt"]["action"]
    boto3.client("s3", region_name=REGION).put_object(Bucket=action["bucketName"], Key=action["objectKey"], Body=raw)
    outcome = ingest_email(json.dumps(document), bootstrap.shop().inbound())
    assert outcome.ticket_id
    return outcome.ticket_id


def test_report_matches_hand_computed_percentiles(api: Api, clock: FixedClock) -> None:
    tickets = [receive(f"Question {n}") for n in range(6)]  # all arrive Tuesday 10:00
    answers = [  # (ticket, reply at, agent): 10, 20, 30, 40, 300 and 600 business minutes
        (0, datetime(2026, 11, 24, 10, 10), "agent-1"), (1, datetime(2026, 11, 24, 10, 20), "agent-1"),
        (2, datetime(2026, 11, 24, 10, 30), "agent-1"), (3, datetime(2026, 11, 24, 10, 40), "agent-2"),
        (4, datetime(2026, 11, 24, 15, 0), "agent-2"),
        (5, datetime(2026, 11, 25, 12, 0), "agent-2"),  # 7 h on Tuesday + 3 h on Wednesday
    ]
    for index, moment, agent in answers:
        clock.moment = moment.replace(tzinfo=BERLIN)
        _, detail = api.call("GET", f"/tickets/{tickets[index]}")
        status, _ = api.call("POST", f"/tickets/{tickets[index]}/replies",
                             {"body": "Thanks, sorted.", "version": detail["ticket"]["version"]}, user=agent)
        assert status == 201
    status, report = api.call("GET", "/reports/sla?from=2026-11-24&to=2026-11-25&queue=support", role="manager")
    assert status == 200
    first = report["targets"]["first_response"]
    # Sorted: 10, 20, 30, 40, 300, 600. Nearest rank of n = 6: p50 → 3rd, p75 → 5th, p90 and p100 → 6th.
    assert first["business_minutes"] == {"p50": 30.0, "p75": 300.0, "p90": 600.0, "p100": 600.0}
    assert (first["count"], first["attained"], first["share_attained"]) == (6, 4, 0.6667)  # target 240
    assert first["share_within_business_day"] == 0.8333  # 600 > one 8-hour business day
    assert report["agents"]["agent-1"]["first_response"]["business_minutes"]["p50"] == 20.0
    assert report["agents"]["agent-2"]["first_response"]["business_minutes"]["p100"] == 600.0
    status, only = api.call("GET", "/reports/sla?from=2026-11-24&to=2026-11-25&agent=agent-2", role="manager")
    assert only["targets"]["first_response"]["count"] == 3
    status, one_day = api.call("GET", "/reports/sla?from=2026-11-24&to=2026-11-24")
    assert status == 200 and one_day["targets"]["first_response"]["count"] == 5 and "agents" not in one_day
    status, _ = api.call("GET", "/reports/sla?agent=agent-2")
    assert status == 403  # per agent: managers only


@pytest.mark.parametrize("query", ["from=2026-11-25&to=2026-11-24", "from=yesterday", "to=2026-11-24&from=2026-01-01",
                                   "queue=billing", "days=7"])
def test_bad_report_queries_are_400(api: Api, clock: FixedClock, query: str) -> None:
    status, _ = api.call("GET", f"/reports/sla?{query}")
    assert status == 400
