"""The composition root: the one place that picks concrete classes and builds them into a typed, frozen `Shop`.

Production, the tests' fakes, the benchmarks and the local stack all build through `bootstrap(...)`: its
keyword overrides are typed, so a misspelt one is a TypeError (and a mypy error), never silently ignored.
AWS clients inside the adapters are built on first use, so building a Shop costs no AWS client."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypedDict

from typing_extensions import Unpack

from chalicelib.config import Settings
from chalicelib.config import settings as settings_from_env

if TYPE_CHECKING:
    from chalicelib.adapters.item_store import ItemStore
    from chalicelib.domain.calendar import BusinessCalendar
    from chalicelib.domain.sla_config import CalendarSpec
    from chalicelib.ports import (
        AlertPublisher,
        BlobStore,
        Clock,
        MailSender,
        SlaRepository,
        SmsSender,
        TicketRepository,
    )
    from chalicelib.services.inbound.message import InboundDeps
    from chalicelib.services.inbound.pending_acks import AckDrainDeps
    from chalicelib.services.inbox import InboxDeps
    from chalicelib.services.sla_config import SlaConfigDeps
    from chalicelib.services.sla_rules import SlaSetup
    from chalicelib.services.sla_sweep import SweepDeps


class ShopParts(TypedDict, total=False):
    """What a caller may put in place of the real thing (tests: fakes; the local stack: its own store)."""

    store: ItemStore
    repository: TicketRepository  # default: the table repository over `store`
    sla_repository: SlaRepository  # default: the SLA repository over `store`
    blobs: BlobStore
    mail: MailSender
    sms: SmsSender
    alerts: AlertPublisher
    clock: Clock
    build_calendar: Callable[[CalendarSpec], BusinessCalendar]


@dataclass(frozen=True)
class Shop:
    """Every port ShopDesk's use cases need, and the use cases' dependencies built from them."""

    settings: Settings
    store: ItemStore
    repository: TicketRepository
    sla_repository: SlaRepository
    blobs: BlobStore
    mail: MailSender
    sms: SmsSender
    alerts: AlertPublisher
    clock: Clock
    build_calendar: Callable[[CalendarSpec], BusinessCalendar]

    def parts(self) -> ShopParts:
        return {"store": self.store, "repository": self.repository, "sla_repository": self.sla_repository,
                "blobs": self.blobs, "mail": self.mail, "sms": self.sms, "alerts": self.alerts, "clock": self.clock,
                "build_calendar": self.build_calendar}

    @cached_property
    def sla(self) -> SlaSetup:
        from chalicelib.services.sla_rules import SlaSetup

        return SlaSetup(repository=self.sla_repository, build_calendar=self.build_calendar)

    def inbound(self) -> InboundDeps:
        from chalicelib.services.inbound.message import InboundDeps

        return InboundDeps(repository=self.repository, blobs=self.blobs, mail=self.mail, sms=self.sms,
                           clock=self.clock, settings=self.settings, sla=self.sla)

    def ack_drain(self) -> AckDrainDeps:
        from chalicelib.services.inbound.pending_acks import AckDrainDeps

        return AckDrainDeps(inbound=self.inbound())

    def inbox(self) -> InboxDeps:
        from chalicelib.services.inbox import InboxDeps

        return InboxDeps(repository=self.repository, mail=self.mail, sms=self.sms,
                         clock=self.clock, settings=self.settings, sla=self.sla)

    def sweep(self) -> SweepDeps:
        from chalicelib.services.sla_sweep import SweepDeps

        return SweepDeps(repository=self.repository, sla=self.sla_repository, setup=self.sla, mail=self.mail,
                         alerts=self.alerts, clock=self.clock, settings=self.settings)

    def sla_config(self) -> SlaConfigDeps:
        from chalicelib.adapters.holiday_calendar import check_holidays
        from chalicelib.services.sla_config import SlaConfigDeps

        return SlaConfigDeps(repository=self.sla_repository, setup=self.sla, clock=self.clock,
                             settings=self.settings, check_holidays=check_holidays)


def bootstrap(settings: Settings | None = None, **parts: Unpack[ShopParts]) -> Shop:
    """A Shop on `settings` (default: the environment's), with the real AWS adapters wherever `parts`
    names no replacement."""
    unknown = set(parts) - set(ShopParts.__annotations__)
    if unknown:  # mypy catches this in typed code; tests and scripts get a TypeError, not a silent no-op
        known = sorted(ShopParts.__annotations__)
        raise TypeError(f"bootstrap() got unknown parts {sorted(unknown)}; a Shop has {known}")
    config = settings or settings_from_env()
    store = parts["store"] if "store" in parts else _dynamo_store(config)
    clock = parts["clock"] if "clock" in parts else _system_clock()
    return Shop(
        settings=config,
        store=store,
        repository=parts["repository"] if "repository" in parts else _table_repository(store, clock),
        sla_repository=parts["sla_repository"] if "sla_repository" in parts else _sla_repository(store),
        blobs=parts["blobs"] if "blobs" in parts else _s3_blobs(config),
        mail=parts["mail"] if "mail" in parts else _ses_mail(config),
        sms=parts["sms"] if "sms" in parts else _sns_sms(config),
        alerts=parts["alerts"] if "alerts" in parts else _sns_alerts(config),
        clock=clock,
        build_calendar=parts["build_calendar"] if "build_calendar" in parts else _holiday_calendars(),
    )


# ---- the real adapters ----------------------------------------------------------------------------
def _client(service: str, config: Settings) -> Any:
    """Every AWS client of a Shop: built on first use, from the process's one session, with the settings'
    parameter validation (chalicelib.adapters.aws)."""
    from chalicelib.adapters.aws import lazy_client

    return lazy_client(service, config.region, parameter_validation=config.aws_parameter_validation)


def _table_repository(store: ItemStore, clock: Clock) -> TicketRepository:
    from chalicelib.adapters.table_repository import TableRepository

    return TableRepository(store, clock=clock)


def _sla_repository(store: ItemStore) -> SlaRepository:
    from chalicelib.adapters.sla_repository import TableSlaRepository

    return TableSlaRepository(store)


def _dynamo_store(config: Settings) -> ItemStore:
    from chalicelib.adapters.dynamo_store import DynamoItemStore

    return DynamoItemStore(_client("dynamodb", config), config.table_name)


def _s3_blobs(config: Settings) -> BlobStore:
    from chalicelib.adapters.s3_blobs import S3BlobStore

    return S3BlobStore(_client("s3", config), config.raw_mail_bucket)


def _ses_mail(config: Settings) -> MailSender:
    from chalicelib.adapters.ses_mail import SesMailSender

    return SesMailSender(_client("ses", config), config.region)


def _sns_sms(config: Settings) -> SmsSender:
    from chalicelib.adapters.sns_sms import SnsSmsSender

    return SnsSmsSender(lambda: _client("sns", config))  # SnsSmsSender builds on the first text


def _sns_alerts(config: Settings) -> AlertPublisher:
    from chalicelib.adapters.sns_alerts import SnsAlertPublisher

    return SnsAlertPublisher(_client("sns", config), config.sla.escalations_topic_arn,
                             config.names.escalations_topic)


def _system_clock() -> Clock:
    from chalicelib.adapters.clock import SystemClock

    return SystemClock()


def _holiday_calendars() -> Callable[[CalendarSpec], BusinessCalendar]:
    from chalicelib.adapters.holiday_calendar import calendar_from_spec

    return calendar_from_spec


# ---- the process's Shop -----------------------------------------------------------------------------
_current: list[Shop] = []  # at most one: built on first use, replaced within `overridden`


def shop() -> Shop:
    """The process's Shop, built on first use (a Lambda container keeps it between invocations)."""
    if not _current:
        _current.append(bootstrap())
    return _current[0]


@contextmanager
def overridden(settings: Settings | None = None, **parts: Unpack[ShopParts]) -> Iterator[Shop]:
    """Within the block, the process's Shop has these parts (and settings) in place of its own."""
    saved = list(_current)
    current = shop()
    kept = current.parts()
    if "store" in parts or "clock" in parts:  # the repositories are built over the new store and clock
        kept.pop("repository")
        kept.pop("sla_repository")
    kept.update(parts)
    changed = bootstrap(settings or current.settings, **kept)
    _current[:] = [changed]
    try:
        yield changed
    finally:
        _current[:] = saved


def reset() -> None:
    """Forgets the process's Shop and every AWS client (tests start each case with a fresh moto backend)."""
    from chalicelib.adapters.aws import reset_clients

    _current.clear()
    settings_from_env.cache_clear()
    reset_clients()
