"""The one place that builds real objects, lazily, once per process; tests override any of them."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from chalicelib.config import Settings, settings

_overrides: dict[str, Any] = {}


def _override_or(name: str, build: Any) -> Any:
    return _overrides[name] if name in _overrides else build()


@contextmanager
def overridden(**objects: Any) -> Iterator[None]:
    """Replaces wired objects (settings, repository, blobs, mail, sms, clock, sla, …) within a block."""
    saved = dict(_overrides)
    _overrides.update(objects)
    try:
        yield
    finally:
        _overrides.clear()
        _overrides.update(saved)


def reset() -> None:
    """Forgets every built object (tests start each case with a fresh moto backend)."""
    from chalicelib.adapters.aws import reset_clients

    _overrides.clear()
    for cached in (_store, _blobs, _mail, _sms, _alerts):
        cached.cache_clear()
    settings.cache_clear()
    reset_clients()


def current_settings() -> Settings:
    return _override_or("settings", settings)


@lru_cache(maxsize=1)
def _store() -> Any:
    from chalicelib.adapters.aws import client
    from chalicelib.adapters.dynamo_store import DynamoItemStore

    config = current_settings()
    return DynamoItemStore(client("dynamodb", config.region), config.table_name)


def repository() -> Any:
    from chalicelib.adapters.table_repository import TableRepository

    return _override_or("repository", lambda: TableRepository(_store(), clock=clock()))


@lru_cache(maxsize=1)
def _blobs() -> Any:
    from chalicelib.adapters.aws import client
    from chalicelib.adapters.s3_blobs import S3BlobStore

    config = current_settings()
    return S3BlobStore(client("s3", config.region), config.raw_mail_bucket)


def blobs() -> Any:
    return _override_or("blobs", _blobs)


@lru_cache(maxsize=1)
def _mail() -> Any:
    from chalicelib.adapters.aws import client
    from chalicelib.adapters.ses_mail import SesMailSender

    config = current_settings()
    return SesMailSender(client("ses", config.region), config.region)


def mail_sender() -> Any:
    return _override_or("mail", _mail)


@lru_cache(maxsize=1)
def _sms() -> Any:
    from chalicelib.adapters.aws import client
    from chalicelib.adapters.sns_sms import SnsSmsSender

    config = current_settings()
    return SnsSmsSender(lambda: client("sns", config.region))  # the client is built on the first text


def sms_sender() -> Any:
    return _override_or("sms", _sms)


def clock() -> Any:
    from chalicelib.adapters.clock import SystemClock

    return _override_or("clock", SystemClock)


def sla_repository() -> Any:
    from chalicelib.adapters.sla_repository import TableSlaRepository

    return _override_or("sla_repository", lambda: TableSlaRepository(_store()))


def sla_setup() -> Any:
    from chalicelib.adapters.holiday_calendar import calendar_from_spec
    from chalicelib.services.sla_rules import SlaSetup

    return _override_or("sla", lambda: SlaSetup(repository=sla_repository(), build_calendar=calendar_from_spec))


@lru_cache(maxsize=1)
def _alerts() -> Any:
    from chalicelib.adapters.aws import client
    from chalicelib.adapters.sns_alerts import SnsAlertPublisher

    config = current_settings()
    return SnsAlertPublisher(client("sns", config.region), config.sla.escalations_topic_arn,
                             config.names.escalations_topic)


def alert_publisher() -> Any:
    return _override_or("alerts", _alerts)


def sweep_deps() -> Any:
    from chalicelib.services.sla_sweep import SweepDeps

    return SweepDeps(repository=repository(), sla=sla_repository(), setup=sla_setup(), mail=mail_sender(),
                     alerts=alert_publisher(), clock=clock(), settings=current_settings())


def sla_config_deps() -> Any:
    from chalicelib.adapters.holiday_calendar import check_holidays
    from chalicelib.services.sla_config import SlaConfigDeps

    return SlaConfigDeps(repository=sla_repository(), setup=sla_setup(), clock=clock(),
                         settings=current_settings(), check_holidays=check_holidays)


def email_ingest_deps() -> Any:
    from chalicelib.services.ingest_email import EmailIngestDeps

    return EmailIngestDeps(repository=repository(), blobs=blobs(), mail=mail_sender(), clock=clock(),
                           settings=current_settings(), sla=sla_setup())


def inbox_deps() -> Any:
    from chalicelib.services.inbox import InboxDeps

    return InboxDeps(repository=repository(), mail=mail_sender(), clock=clock(), settings=current_settings(),
                     sms=sms_sender(), sla=sla_setup())


def sms_ingest_deps() -> Any:
    from chalicelib.services.ingest_sms import SmsIngestDeps

    return SmsIngestDeps(repository=repository(), blobs=blobs(), sms=sms_sender(), clock=clock(),
                         settings=current_settings(), sla=sla_setup())
