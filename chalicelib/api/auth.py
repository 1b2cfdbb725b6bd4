"""JWT (RS256) verification for the API's built-in authorizer: Cognito's JWKS or a local public key.

The signature is checked with the pure-Python `rsa` package (PKCS#1 v1.5 with SHA-256 is exactly
RS256), so the Lambda package carries no native crypto library (`cryptography` alone is 4.5 MB
zipped, half the package budget). PyJWT then validates the header and the claims."""
from __future__ import annotations

import base64
import binascii
import json
import time
import urllib.request
from functools import lru_cache
from threading import Lock
from typing import Any

from chalicelib.config import AuthSettings
from chalicelib.domain.principals import Principal, Role

GROUPS_CLAIM = "cognito:groups"
_JWKS_TTL_SECONDS = 3600
_JWKS_MIN_REFRESH_SECONDS = 60  # an unknown kid refreshes at most this often (no fetch storm)


class InvalidToken(Exception):
    """The token is missing, malformed, expired, or not signed by our issuer."""


def _b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@lru_cache(maxsize=4)
def _pem_key(pem: str) -> Any:
    import rsa

    return rsa.PublicKey.load_pkcs1_openssl_pem(pem.encode("ascii"))


class _JwksKeys:
    """Cognito's signing keys by `kid`, fetched once an hour (or when a new kid appears)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = Lock()

    def key(self, kid: str) -> Any:
        with self._lock:
            age = time.monotonic() - self._fetched_at
            if age > _JWKS_TTL_SECONDS or (kid not in self._keys and age > _JWKS_MIN_REFRESH_SECONDS):
                self._keys = self._fetch()
                self._fetched_at = time.monotonic()
            if kid not in self._keys:
                raise InvalidToken("unknown signing key")
            return self._keys[kid]

    def _fetch(self) -> dict[str, Any]:
        import rsa

        try:
            with urllib.request.urlopen(self._url, timeout=3) as response:  # a fixed https URL from settings
                document = json.loads(response.read(1_000_000))
        except (OSError, ValueError) as exc:
            raise InvalidToken("signing keys unavailable") from exc
        keys = {}
        for jwk in document.get("keys", []):
            if jwk.get("kty") == "RSA" and jwk.get("kid") and jwk.get("alg", "RS256") == "RS256":
                n = int.from_bytes(_b64url(jwk["n"]), "big")
                e = int.from_bytes(_b64url(jwk["e"]), "big")
                keys[jwk["kid"]] = rsa.PublicKey(n, e)
        return keys


@lru_cache(maxsize=4)
def _jwks(url: str) -> _JwksKeys:
    return _JwksKeys(url)


def _check_signature(token: str, header: dict[str, Any], auth: AuthSettings) -> None:
    import rsa

    if header.get("alg") != "RS256":
        raise InvalidToken("only RS256 tokens are accepted")  # no "none", no HS256 key confusion
    if auth.public_key_pem:
        key = _pem_key(auth.public_key_pem)
    elif auth.jwks_url:
        key = _jwks(auth.jwks_url).key(str(header.get("kid", "")))
    else:
        raise InvalidToken("no verification key configured")
    signing_input, _, signature = token.rpartition(".")
    try:
        if rsa.verify(signing_input.encode("ascii"), _b64url(signature), key) != "SHA-256":
            raise InvalidToken("signature is not RS256")
    except (rsa.VerificationError, binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise InvalidToken("bad signature") from exc


def verify_token(header_value: str, auth: AuthSettings) -> Principal:
    """The principal a bearer token proves, or InvalidToken. A valid token that names no ShopDesk
    group proves who someone is but grants nothing (Role.NONE: 403 everywhere)."""
    import jwt

    token = header_value.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    if not token or len(token) > 8192 or token.count(".") != 2:
        raise InvalidToken("missing, oversized or malformed token")
    try:
        header = jwt.get_unverified_header(token)
        _check_signature(token, header, auth)
        # The signature is verified above; PyJWT checks expiry, issuer, audience and required claims.
        claims = jwt.decode(
            token, algorithms=["RS256"], audience=auth.audience or None, issuer=auth.issuer,
            options={"verify_signature": False, "verify_exp": True, "verify_iat": True, "verify_nbf": True,
                     "verify_iss": True, "verify_aud": bool(auth.audience), "require": ["exp", "iat", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(exc.__class__.__name__) from exc
    groups = claims.get(GROUPS_CLAIM) or []
    if isinstance(groups, str):
        groups = [groups]
    roles = [r for g in groups if isinstance(g, str) and (r := Role.parse(g)) is not None]
    name = claims.get("name") or claims.get("cognito:username") or claims.get("email") or claims["sub"]
    return Principal(user_id=str(claims["sub"]), name=str(name)[:200], role=max(roles, default=Role.NONE))
