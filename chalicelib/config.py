"""Typed settings, read once from the environment; the only module that reads os.environ."""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from chalicelib.resources import ResourceNames

DEFAULT_ADDRESSES = {
    "support@shop.example": "support",
    "shipping@shop.example": "shipping",
    "products@shop.example": "products",
}
# Only for dev, local and tests; a deployed stage must set SHOPDESK_REPLY_SECRET.
DEV_REPLY_SECRET = "dev-only-reply-secret-change-me"


class SettingsError(ValueError):
    """The environment describes an impossible configuration."""


@dataclass(frozen=True)
class BusinessHoursSettings:
    """The store's default calendar: opening ranges per weekday (0 = Monday) and closed dates."""

    weekly: Mapping[int, tuple[tuple[str, str], ...]] = field(
        default_factory=lambda: {day: (("09:00", "17:00"),) for day in range(5)}
    )
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    closed_dates: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthSettings:
    """Where the API's JWT verification keys come from: Cognito's JWKS when deployed, a local
    public key (PEM) in tests and the local stack. Verification is the same code either way."""

    issuer: str = "shopdesk-local"
    audience: str = "shopdesk"
    jwks_url: str | None = None
    public_key_pem: str | None = None


@dataclass(frozen=True)
class Settings:
    """Everything that varies by stage or store. Built once per cold start."""

    stage: str
    region: str
    store_name: str
    support_addresses: Mapping[str, str]  # address -> queue
    default_queue: str
    time_zone: str
    reply_secret: str
    business_hours: BusinessHoursSettings
    first_response_minutes: int = 240
    reopen_window_days: int = 30
    acks_per_sender_per_hour: int = 3
    max_mail_bytes: int = 40 * 1024 * 1024
    log_level: str = "INFO"
    auth: AuthSettings = field(default_factory=lambda: AuthSettings())

    @property
    def names(self) -> ResourceNames:
        return ResourceNames(self.stage)

    @property
    def table_name(self) -> str:
        return self.names.table

    @property
    def raw_mail_bucket(self) -> str:
        return self.names.raw_mail_bucket

    def queue_for(self, address: str) -> str | None:
        return self.support_addresses.get(address.lower())


def stage_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The stage, needed at import time by app.py to name the SNS topics it subscribes to."""
    env = os.environ if environ is None else environ
    return env.get("SHOPDESK_STAGE", "dev")


def _parse_addresses(raw: str | None) -> dict[str, str]:
    if not raw:
        return dict(DEFAULT_ADDRESSES)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError("SHOPDESK_ADDRESSES must be a JSON object of address -> queue") from exc
    if not isinstance(value, dict) or not value:
        raise SettingsError("SHOPDESK_ADDRESSES must be a non-empty JSON object")
    return {str(k).strip().lower(): str(v) for k, v in value.items()}


def _parse_hours(raw: str | None) -> Mapping[int, tuple[tuple[str, str], ...]] | None:
    """`{"0": [["09:00","12:00"],["13:00","17:00"]], ...}` keyed by weekday, 0 = Monday."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
        return {int(day): tuple((str(a), str(b)) for a, b in ranges) for day, ranges in value.items()}
    except (json.JSONDecodeError, ValueError, TypeError, AttributeError) as exc:
        raise SettingsError("SHOPDESK_BUSINESS_HOURS must map weekday -> [[open, close], ...]") from exc


def _auth_settings(env: Mapping[str, str]) -> AuthSettings:
    pem = env.get("SHOPDESK_JWT_PUBLIC_KEY") or None
    key_file = env.get("SHOPDESK_JWT_PUBLIC_KEY_FILE")
    if not pem and key_file:
        try:
            with open(key_file, encoding="ascii") as handle:
                pem = handle.read()
        except OSError as exc:
            raise SettingsError(f"SHOPDESK_JWT_PUBLIC_KEY_FILE unreadable: {exc.strerror}") from exc
    pool, region = env.get("SHOPDESK_USER_POOL_ID"), env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if pool and region:
        issuer = f"https://cognito-idp.{region}.amazonaws.com/{pool}"
        return AuthSettings(issuer=issuer, audience=env.get("SHOPDESK_USER_POOL_CLIENT_ID", ""),
                            jwks_url=f"{issuer}/.well-known/jwks.json", public_key_pem=pem)
    return AuthSettings(issuer=env.get("SHOPDESK_JWT_ISSUER", "shopdesk-local"),
                        audience=env.get("SHOPDESK_JWT_AUDIENCE", "shopdesk"), public_key_pem=pem)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    stage = stage_from_env(env)
    secret = env.get("SHOPDESK_REPLY_SECRET", "")
    if not secret:
        if stage == "prod":
            raise SettingsError("SHOPDESK_REPLY_SECRET is required in prod")
        secret = DEV_REPLY_SECRET
    addresses = _parse_addresses(env.get("SHOPDESK_ADDRESSES"))
    weekly = _parse_hours(env.get("SHOPDESK_BUSINESS_HOURS"))
    hours = BusinessHoursSettings(
        **({"weekly": weekly} if weekly is not None else {}),
        holiday_country=env.get("SHOPDESK_HOLIDAY_COUNTRY") or None,
        holiday_subdivision=env.get("SHOPDESK_HOLIDAY_SUBDIVISION") or None,
        closed_dates=tuple(d for d in env.get("SHOPDESK_CLOSED_DATES", "").split(",") if d),
    )
    auth = _auth_settings(env)
    try:
        return Settings(
            stage=stage,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "eu-central-1",
            store_name=env.get("SHOPDESK_STORE_NAME", "Example Shop"),
            support_addresses=addresses,
            default_queue=env.get("SHOPDESK_DEFAULT_QUEUE", next(iter(addresses.values()))),
            time_zone=env.get("SHOPDESK_TIME_ZONE", "Europe/Berlin"),
            reply_secret=secret,
            business_hours=hours,
            first_response_minutes=int(env.get("SHOPDESK_FIRST_RESPONSE_MINUTES", "240")),
            reopen_window_days=int(env.get("SHOPDESK_REOPEN_WINDOW_DAYS", "30")),
            acks_per_sender_per_hour=int(env.get("SHOPDESK_ACKS_PER_SENDER_PER_HOUR", "3")),
            log_level=env.get("POWERTOOLS_LOG_LEVEL", "INFO"),
            auth=auth,
        )
    except ValueError as exc:
        raise SettingsError(f"invalid numeric setting: {exc}") from exc


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()
