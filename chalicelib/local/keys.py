"""The local stack's RS256 signing key, generated once into .local/; its public half and `kid` for the authorizer."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ISSUER = "shopdesk-local"
AUDIENCE = "shopdesk"
ROLES = ("agent", "manager", "admin")
GROUPS_CLAIM = "cognito:groups"
TOKEN_LIFETIME_SECONDS = 12 * 3600
PRIVATE_KEY_FILE = "jwt-private.pem"
PUBLIC_KEY_FILE = "jwt-public.pem"
_USER = re.compile(r"^[A-Za-z0-9._@+-]{1,64}$")


class TokenRequestError(ValueError):
    """The role or user name asked for cannot be put in a local token."""


def default_dir() -> Path:
    from chalicelib.local.env import PROJECT_ROOT

    return Path(os.environ.get("SHOPDESK_LOCAL_DIR") or PROJECT_ROOT / ".local")


def public_key_path(directory: Path | None = None) -> Path:
    """Where the authorizer finds the PEM it verifies local tokens with (SHOPDESK_JWT_PUBLIC_KEY_FILE)."""
    return (directory or default_dir()) / PUBLIC_KEY_FILE


def private_key_path(directory: Path | None = None) -> Path:
    return (directory or default_dir()) / PRIVATE_KEY_FILE


@dataclass(frozen=True)
class LocalKey:
    """The signing key of one checkout; `kid` is the RFC 7638 thumbprint of the public key."""

    private_pem: bytes
    public_pem: bytes
    kid: str

    def jwk(self) -> dict[str, Any]:
        """The public key as a JWK, as Cognito's JWKS lists its keys."""
        from jwt.algorithms import RSAAlgorithm

        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(_load_public(self.public_pem), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk()]}


def _load_public(public_pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key(public_pem)


def key_id(public_pem: bytes) -> str:
    from jwt.algorithms import RSAAlgorithm

    jwk = RSAAlgorithm.to_jwk(_load_public(public_pem), as_dict=True)
    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def _generate_private_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _public_pem_of(private_pem: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    public = load_pem_private_key(private_pem, password=None).public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _write_atomically(path: Path, data: bytes, *, exclusive: bool) -> None:
    """Writes via a temporary file; with `exclusive`, an existing file wins (two first runs agree on one key)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o600 if exclusive else 0o644)
        if exclusive:
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
        else:
            os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def ensure_key(directory: Path | None = None) -> LocalKey:
    """Loads the local key, generating it on first use; the public PEM is always rewritten from it."""
    directory = directory or default_dir()
    directory.mkdir(parents=True, exist_ok=True)
    private_path = private_key_path(directory)
    if not private_path.exists():
        _write_atomically(private_path, _generate_private_pem(), exclusive=True)
    private_pem = private_path.read_bytes()
    public_pem = _public_pem_of(private_pem)
    public_path = public_key_path(directory)
    if not public_path.exists() or public_path.read_bytes() != public_pem:
        _write_atomically(public_path, public_pem, exclusive=False)
    return LocalKey(private_pem=private_pem, public_pem=public_pem, kid=key_id(public_pem))


def sign_token(key: LocalKey, role: str, user: str | None = None, *, now: float | None = None) -> str:
    """An RS256 token shaped like a Cognito ID token: sub, `cognito:groups` [role], iss, aud, 12 h lifetime."""
    import jwt

    role = role.strip().lower()
    if role not in ROLES:
        raise TokenRequestError(f"role must be one of {', '.join(ROLES)}")
    user = (user or f"local-{role}").strip()
    if not _USER.match(user):
        raise TokenRequestError("user must be 1-64 characters of letters, digits and ._@+-")
    issued = int(time.time() if now is None else now)
    claims = {
        "sub": user, "name": user, "cognito:username": user, GROUPS_CLAIM: [role], "token_use": "id",
        "iss": ISSUER, "aud": AUDIENCE, "iat": issued, "exp": issued + TOKEN_LIFETIME_SECONDS,
    }
    return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})
