"""JWT (RS256) verification for the API's built-in authorizer: Cognito's JWKS or a local public key."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from chalicelib.config import AuthSettings
from chalicelib.domain.principals import Principal, Role

GROUPS_CLAIM = "cognito:groups"


class InvalidToken(Exception):
    """The token is missing, malformed, expired, or not signed by our issuer."""


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> Any:
    from jwt import PyJWKClient

    return PyJWKClient(url, cache_keys=True, lifespan=3600)


def _verification_key(token: str, auth: AuthSettings) -> Any:
    if auth.public_key_pem:
        return auth.public_key_pem
    if auth.jwks_url:
        return _jwks_client(auth.jwks_url).get_signing_key_from_jwt(token).key
    raise InvalidToken("no verification key configured")


def verify_token(header_value: str, auth: AuthSettings) -> Principal:
    """The principal a bearer token proves, or InvalidToken. A valid token that names no ShopDesk
    group proves who someone is but grants nothing (Role.NONE: 403 everywhere)."""
    import jwt

    token = header_value.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    if not token or len(token) > 8192:
        raise InvalidToken("missing or oversized token")
    try:
        claims = jwt.decode(
            token, _verification_key(token, auth), algorithms=["RS256"],
            audience=auth.audience or None, issuer=auth.issuer,
            options={"require": ["exp", "iat", "sub"], "verify_aud": bool(auth.audience)},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(exc.__class__.__name__) from exc
    groups = claims.get(GROUPS_CLAIM) or []
    if isinstance(groups, str):
        groups = [groups]
    roles = [r for g in groups if isinstance(g, str) and (r := Role.parse(g)) is not None]
    name = claims.get("name") or claims.get("cognito:username") or claims.get("email") or claims["sub"]
    return Principal(user_id=str(claims["sub"]), name=str(name)[:200], role=max(roles, default=Role.NONE))
