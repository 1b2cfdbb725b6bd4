"""Tokens verified against a JWKS document served over HTTP, as Cognito publishes it (on loopback)."""
from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest

from chalicelib.api.auth import InvalidToken, verify_token
from chalicelib.config import AuthSettings
from chalicelib.domain.principals import Role
from tests.app.api_support import signing_key


def _b64(number: int) -> str:
    return base64.urlsafe_b64encode(number.to_bytes((number.bit_length() + 7) // 8, "big")).decode().rstrip("=")


@pytest.fixture
def jwks_url() -> Iterator[str]:
    numbers = signing_key().public_key().public_numbers()
    document = json.dumps({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
                                     "n": _b64(numbers.n), "e": _b64(numbers.e)}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *_: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/pool/.well-known/jwks.json"
    server.shutdown()


def _token(kid: str, **claims: object) -> str:
    now = int(time.time())
    body = {"sub": "u-1", "iss": "https://issuer.example/pool", "aud": "client-1", "iat": now, "exp": now + 60,
            "cognito:groups": ["manager"], "cognito:username": "mia", **claims}
    return jwt.encode(body, signing_key(), algorithm="RS256", headers={"kid": kid})


def test_cognito_style_token_verifies_against_jwks(jwks_url: str) -> None:
    auth = AuthSettings(issuer="https://issuer.example/pool", audience="client-1", jwks_url=jwks_url)
    principal = verify_token(f"Bearer {_token('k1')}", auth)
    assert principal.user_id == "u-1" and principal.name == "mia" and principal.role is Role.MANAGER
    with pytest.raises(InvalidToken):
        verify_token(_token("unknown-kid"), auth)
    with pytest.raises(InvalidToken):
        verify_token(_token("k1", aud="another-client"), auth)
