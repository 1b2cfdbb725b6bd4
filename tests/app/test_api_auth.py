"""Authentication and roles on every route; a route cannot ship unprotected."""
from __future__ import annotations

import pytest

from tests.app.api_support import Api, token

PUBLIC = {("/contact", "POST"), ("/openapi.json", "GET")}


def test_every_route_is_protected_or_deliberately_public() -> None:
    from app import app

    for path, entry in app.routes.items():
        for method, route in entry.items():
            role = getattr(route.view_function, "required_role", "missing")
            assert role != "missing", f"{method} {path} bypasses the endpoint wrapper"
            if (path, method) in PUBLIC:
                assert role is None and route.authorizer is None
            else:
                assert role is not None, f"{method} {path} has no role"
                assert route.authorizer is not None, f"{method} {path} has no authorizer"


def test_no_token_is_401(api: Api) -> None:
    status, _ = api.call("GET", "/tickets", role=None)
    assert status == 401


@pytest.mark.parametrize("bad", [
    "Bearer nonsense", "Bearer " + "a" * 9000, "Basic dXNlcjpwYXNz",
])
def test_bad_token_is_401_in_our_shape(api: Api, bad: str) -> None:
    status, body = api.call("GET", "/tickets", role=None, headers={"Authorization": bad})
    assert status == 401 and body["error"]["code"] == "unauthenticated"


def test_expired_or_foreign_tokens_are_401(api: Api) -> None:
    import time

    expired = token(exp=int(time.time()) - 10)
    status, _ = api.call("GET", "/tickets", role=None, headers={"Authorization": f"Bearer {expired}"})
    assert status == 401
    wrong_issuer = token(iss="someone-else")
    status, _ = api.call("GET", "/tickets", role=None, headers={"Authorization": f"Bearer {wrong_issuer}"})
    assert status == 401


def test_token_without_group_is_403(api: Api) -> None:
    status, body = api.call("GET", "/tickets", role=None, headers={"Authorization": f"Bearer {token(role=None)}"})
    assert status == 403 and body["error"]["code"] == "forbidden"


def test_role_too_low_is_403(api: Api) -> None:
    status, body = api.call("POST", "/macros", {"name": "Hi", "body": "Hello"}, role="agent")
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, _ = api.call("POST", "/macros", {"name": "Hi", "body": "Hello"}, role="manager")
    assert status == 201


def test_openapi_is_public_and_lists_every_route(api: Api) -> None:
    from app import app

    status, document = api.call("GET", "/openapi.json", role=None)
    assert status == 200 and document["openapi"].startswith("3.")
    for path, entry in app.routes.items():
        for method in entry:
            assert method.lower() in document["paths"][path]
