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


def _forge(header: dict[str, object], claims: dict[str, object], signature: bytes) -> str:
    import base64
    import json

    def part(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).decode().rstrip("=")

    return ".".join([part(json.dumps(header).encode()), part(json.dumps(claims).encode()), part(signature)])


def test_forged_and_confused_tokens_are_refused(api: Api) -> None:
    import hashlib
    import hmac
    import time

    import jwt

    from tests.app.api_support import public_pem, signing_key

    now = int(time.time())
    claims = {"sub": "mallory", "iss": "shopdesk-local", "aud": "shopdesk", "iat": now, "exp": now + 600,
              "cognito:groups": ["admin"]}
    genuine = token("agent", user="alex")
    head, _payload, signature = genuine.split(".")
    tampered = ".".join([head, _forge({}, claims, b"")[1:].split(".")[1], signature])
    unsigned = _forge({"alg": "none", "typ": "JWT"}, claims, b"")
    hs_input = _forge({"alg": "HS256", "typ": "JWT"}, claims, b"").rsplit(".", 1)[0]
    confused = hs_input + "." + _forge({}, {}, hmac.new(public_pem().encode(), hs_input.encode(),
                                                       hashlib.sha256).digest()).split(".")[2]
    rs512 = jwt.encode(claims, signing_key(), algorithm="RS512")
    for bad in (tampered, unsigned, confused, rs512, genuine + "x", genuine.replace(".", "..", 1)):
        status, _ = api.call("GET", "/tickets", role=None, headers={"Authorization": f"Bearer {bad}"})
        assert status == 401, bad
    status, _ = api.call("GET", "/tickets", role=None, headers={"Authorization": f"Bearer {genuine}"})
    assert status == 200


def test_the_authorizer_is_cached_by_token_for_five_minutes() -> None:
    """One Lambda invocation per request, not two: API Gateway keeps the authorizer's answer per token."""
    from app import app
    from chalicelib.api.endpoint import AUTHORIZER_TTL_SECONDS

    authorizers = {route.authorizer.name: route.authorizer for entry in app.routes.values()
                   for route in entry.values() if route.authorizer is not None}
    assert set(authorizers) == {"jwt"}
    assert authorizers["jwt"].config.ttl_seconds == AUTHORIZER_TTL_SECONDS == 300


def test_a_cached_answer_for_a_token_that_has_expired_since_is_401(api: Api) -> None:
    """Given a token valid for one more minute, when API Gateway serves the authorizer's cached answer after
    that minute (simulated: the shop's clock moves past `exp`), then the view refuses it in our shape."""
    import time
    from datetime import UTC, datetime

    from chalicelib import bootstrap
    from chalicelib.adapters.clock import FixedClock

    soon = int(time.time()) + 60
    short = {"Authorization": f"Bearer {token(exp=soon)}"}
    status, _ = api.call("GET", "/tickets", role=None, headers=short)
    assert status == 200
    with bootstrap.overridden(clock=FixedClock(datetime.fromtimestamp(soon + 1, UTC))):
        status, body = api.call("GET", "/tickets", role=None, headers=short)
    assert status == 401 and body["error"] == {**body["error"], "code": "unauthenticated"}
