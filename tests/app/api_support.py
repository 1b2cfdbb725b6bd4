"""Helpers for API tests: a signing key the authorizer trusts, tokens per role, a JSON client."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import jwt
import pytest
from chalice.test import Client
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib import bootstrap
from chalicelib.config import AuthSettings, settings


@lru_cache(maxsize=1)
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem() -> str:
    return signing_key().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def token(role: str | None = "agent", user: str = "agent-1", name: str = "Alex Agent", **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user, "name": name, "iss": "shopdesk-local", "aud": "shopdesk",
                              "iat": now, "exp": now + 3600}
    if role:
        claims["cognito:groups"] = [role]
    claims.update(overrides)
    return jwt.encode(claims, signing_key(), algorithm="RS256")


@dataclass
class Api:
    client: Client

    def call(self, method: str, path: str, body: Any = None, role: str | None = "agent", user: str = "agent-1",
             headers: dict[str, str] | None = None, raw: bytes | None = None) -> tuple[int, Any]:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if role is not None:
            sent["Authorization"] = f"Bearer {token(role, user)}"
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        response = getattr(self.client.http, method.lower())(path, headers=sent, body=payload)
        text = response.body.decode() if response.body else ""
        return response.status_code, (json.loads(text) if text else None)


@pytest.fixture
def api(aws: None) -> Iterator[Api]:
    from app import app

    configured = replace(settings(), auth=AuthSettings(public_key_pem=public_pem()))
    with bootstrap.overridden(settings=configured), Client(app, stage_name="test") as client:
        yield Api(client)
