"""Merge and un-merge through the API: the route, the role, the events on both tickets."""
from __future__ import annotations

from tests.app.api_support import Api
from tests.app.test_api_tickets import phone_ticket


def test_a_manager_unmerges_a_ticket_and_it_reopens(api: Api) -> None:
    source = phone_ticket(api, subject="first call")
    target = phone_ticket(api, subject="second call")
    status, _ = api.call("POST", f"/tickets/{source['id']}/merge", {"target_id": target["id"], "version": 1})
    assert status == 200
    _, closed = api.call("GET", f"/tickets/{source['id']}")
    version = closed["ticket"]["version"]
    status, body = api.call("POST", f"/tickets/{source['id']}/unmerge", {"version": version})
    assert status == 403  # an agent may merge; taking it back is a manager's call
    status, body = api.call("POST", f"/tickets/{source['id']}/unmerge", {"version": version}, role="manager")
    assert status == 200, body
    assert body["status"] == "open" and body["merged_into"] is None
    _, history = api.call("GET", f"/tickets/{source['id']}/events")
    assert history["events"][0]["type"] == "unmerged"  # newest first
    _, other = api.call("GET", f"/tickets/{target['id']}")
    _, other_history = api.call("GET", f"/tickets/{target['id']}/events")
    assert "unmerged_from" in [e["type"] for e in other_history["events"]]
    assert len(other["messages"]) == 2  # the moved call log stays where it was answered
    status, body = api.call("POST", f"/tickets/{source['id']}/unmerge", {"version": body["version"]},
                            role="manager")
    assert status == 422 and "not merged" in body["error"]["message"]
    status, body = api.call("POST", f"/tickets/{source['id']}/unmerge", {"version": 1}, role="manager")
    assert status == 409
