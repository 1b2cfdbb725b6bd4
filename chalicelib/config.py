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
class SlaSettings:
    """The seed of the default SLA policy (managers replace it through /sla/policies) and who hears
    about warnings and breaches."""

    next_response_minutes: int = 480
    resolution_minutes: int = 2400
    warning_minutes: int = 30
    auto_close_days: int = 5
    escalation_queue: str | None = None
    manager_on_duty: str | None = None  # user id assigned on a breach when a policy says "on_duty"
    queue_agents: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # queue -> agents' addresses
    agent_emails: Mapping[str, str] = field(default_factory=dict)  # user id -> address, for warnings
    escalations_topic_arn: str | None = None  # set by infra; looked up by name when absent (local, tests)
    sweep_max_tickets: int = 500  # what one run may do (and what the sweep plans each later run to do)


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
    acks_per_domain_per_hour: int = 20  # rotating local parts (VERP, throwaway aliases) of one domain
    acks_per_hour: int = 500  # the whole shop: a flood of forged senders cannot make us a mail cannon
    # Sends per second the pending-acknowledgement drain allows itself: SES's MaxSendRate (GetSendQuota;
    # 1 in the sandbox) and the account's SMS rate. The drain stops at the first throttle either way.
    ses_max_send_rate: float = 1.0
    sms_max_send_rate: float = 1.0
    max_mail_bytes: int = 40 * 1024 * 1024
    log_level: str = "INFO"
    metrics_enabled: bool = True  # POWERTOOLS_METRICS_DISABLED=true silences EMF (benchmarks, scripts)
    auth: AuthSettings = field(default_factory=lambda: AuthSettings())
    sla: SlaSettings = field(default_factory=lambda: SlaSettings())
    sms_numbers: Mapping[str, str] = field(default_factory=dict)  # our number (E.164 or short code) -> queue
    sms_max_segments: int = 2  # replies and acknowledgements longer than this are refused or shortened
    sms_reopen_window_days: int = 7  # a text within this many days of a resolution reopens that ticket
    phone_region: str = "DE"  # how national numbers typed into forms (0151 ...) are read
    # botocore checks each request against the service model before sending it: on in tests and the local
    # stack (it catches our mistakes there), off in Lambda (AWS validates anyway; the check costs CPU per call).
    aws_parameter_validation: bool = True

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

    def address_for(self, queue: str) -> str:
        """The support address that answers for `queue` (the first address when none is the queue's)."""
        return next((a for a, q in self.support_addresses.items() if q == queue), next(iter(self.support_addresses)))

    def sms_queue_for(self, number: str) -> str:
        return self.sms_numbers.get(number, self.default_queue)

    def sms_origination_for(self, queue: str) -> str | None:
        """Our number that texts for `queue`: the queue's own, else the default queue's, else the first
        configured; None when no number is configured (SNS then picks the account's default)."""
        for wanted in (queue, self.default_queue):
            found = next((n for n, q in self.sms_numbers.items() if q == wanted), None)
            if found:
                return found
        return next(iter(self.sms_numbers), None)


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


def _parse_sms_numbers(raw: str | None, queues: set[str]) -> dict[str, str]:
    """`{"+4930123456789": "support", "12345": "shipping"}`: our numbers (E.164 or short codes) -> queue."""
    if not raw:
        return {}
    from chalicelib.domain.errors import InvalidInput
    from chalicelib.sms.numbers import normalize_store_number

    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError("SHOPDESK_SMS_NUMBERS must be a JSON object of number -> queue") from exc
    if not isinstance(value, dict):
        raise SettingsError("SHOPDESK_SMS_NUMBERS must be a JSON object of number -> queue")
    numbers: dict[str, str] = {}
    for number, queue in value.items():
        try:
            normalized = normalize_store_number(str(number))
        except InvalidInput as exc:
            raise SettingsError(f"SHOPDESK_SMS_NUMBERS: {number!r} is not a phone number ({exc})") from exc
        if str(queue) not in queues:
            raise SettingsError(f"SHOPDESK_SMS_NUMBERS: queue {queue!r} is none of SHOPDESK_ADDRESSES' queues")
        numbers[normalized] = str(queue)
    return numbers


def _parse_hours(raw: str | None) -> Mapping[int, tuple[tuple[str, str], ...]] | None:
    """`{"0": [["09:00","12:00"],["13:00","17:00"]], ...}` keyed by weekday, 0 = Monday."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
        return {int(day): tuple((str(a), str(b)) for a, b in ranges) for day, ranges in value.items()}
    except (json.JSONDecodeError, ValueError, TypeError, AttributeError) as exc:
        raise SettingsError("SHOPDESK_BUSINESS_HOURS must map weekday -> [[open, close], ...]") from exc


def _json_map(env: Mapping[str, str], name: str) -> dict[str, object]:
    raw = env.get(name, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{name} must be a JSON object") from exc
    if not isinstance(value, dict):
        raise SettingsError(f"{name} must be a JSON object")
    return value


def _send_rate(env: Mapping[str, str], name: str) -> float:
    try:
        rate = float(env.get(name, "1"))
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number of sends per second") from exc
    if not 0 < rate <= 10_000:
        raise SettingsError(f"{name} must be above 0 and at most 10000 sends per second")
    return rate


def _sla_settings(env: Mapping[str, str]) -> SlaSettings:
    agents = _json_map(env, "SHOPDESK_QUEUE_AGENTS")
    queue_agents: dict[str, tuple[str, ...]] = {}
    for queue, addresses in agents.items():
        if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
            raise SettingsError("SHOPDESK_QUEUE_AGENTS maps queue -> [agent addresses]")
        queue_agents[str(queue)] = tuple(a.strip().lower() for a in addresses)
    emails = _json_map(env, "SHOPDESK_AGENT_EMAILS")
    if not all(isinstance(v, str) for v in emails.values()):
        raise SettingsError("SHOPDESK_AGENT_EMAILS maps user id -> address")
    try:
        return SlaSettings(
            next_response_minutes=int(env.get("SHOPDESK_NEXT_RESPONSE_MINUTES", "480")),
            resolution_minutes=int(env.get("SHOPDESK_RESOLUTION_MINUTES", "2400")),
            warning_minutes=int(env.get("SHOPDESK_SLA_WARNING_MINUTES", "30")),
            auto_close_days=int(env.get("SHOPDESK_AUTO_CLOSE_DAYS", "5")),
            escalation_queue=env.get("SHOPDESK_ESCALATION_QUEUE") or None,
            manager_on_duty=env.get("SHOPDESK_MANAGER_ON_DUTY") or None,
            queue_agents=queue_agents,
            agent_emails={str(user): str(address).strip().lower() for user, address in emails.items()},
            escalations_topic_arn=env.get("SHOPDESK_ESCALATIONS_TOPIC_ARN") or None,
            sweep_max_tickets=int(env.get("SHOPDESK_SLA_SWEEP_MAX_TICKETS", "500")),
        )
    except ValueError as exc:
        raise SettingsError(f"invalid numeric SLA setting: {exc}") from exc


def _parameter_validation(env: Mapping[str, str]) -> bool:
    """SHOPDESK_AWS_PARAMETER_VALIDATION=true|false when set; otherwise off only inside Lambda (which sets
    AWS_LAMBDA_FUNCTION_NAME in every function's environment), so tests and the local stack keep it."""
    raw = env.get("SHOPDESK_AWS_PARAMETER_VALIDATION", "").strip().lower()
    if not raw:
        return not env.get("AWS_LAMBDA_FUNCTION_NAME")
    if raw in ("1", "true", "on", "yes"):
        return True
    if raw in ("0", "false", "off", "no"):
        return False
    raise SettingsError("SHOPDESK_AWS_PARAMETER_VALIDATION must be true or false")


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
    sms_numbers = _parse_sms_numbers(env.get("SHOPDESK_SMS_NUMBERS"), set(addresses.values()))
    phone_region = env.get("SHOPDESK_PHONE_REGION", "DE").strip().upper()
    if len(phone_region) != 2 or not phone_region.isalpha():
        raise SettingsError("SHOPDESK_PHONE_REGION must be a two-letter country code such as DE or US")
    max_segments = env.get("SHOPDESK_SMS_MAX_SEGMENTS", "2").strip()
    if not max_segments.isdigit() or not 1 <= int(max_segments) <= 10:
        raise SettingsError("SHOPDESK_SMS_MAX_SEGMENTS must be 1 to 10 (carriers join at most ~10 parts)")
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
            acks_per_domain_per_hour=int(env.get("SHOPDESK_ACKS_PER_DOMAIN_PER_HOUR", "20")),
            acks_per_hour=int(env.get("SHOPDESK_ACKS_PER_HOUR", "500")),
            ses_max_send_rate=_send_rate(env, "SHOPDESK_SES_MAX_SEND_RATE"),
            sms_max_send_rate=_send_rate(env, "SHOPDESK_SMS_MAX_SEND_RATE"),
            log_level=env.get("POWERTOOLS_LOG_LEVEL", "INFO"),
            metrics_enabled=env.get("POWERTOOLS_METRICS_DISABLED", "false").strip().lower() not in ("1", "true"),
            auth=auth,
            sla=_sla_settings(env),
            sms_numbers=sms_numbers,
            sms_max_segments=int(max_segments),
            sms_reopen_window_days=int(env.get("SHOPDESK_SMS_REOPEN_WINDOW_DAYS", "7")),
            phone_region=phone_region,
            aws_parameter_validation=_parameter_validation(env),
        )
    except ValueError as exc:
        raise SettingsError(f"invalid numeric setting: {exc}") from exc


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()
