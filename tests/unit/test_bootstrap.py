"""The composition root: typed overrides, one way to build a Shop, lazily."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.item_store import InMemoryItemStore
from chalicelib.adapters.ses_mail import RecordingMailSender
from chalicelib.config import load_settings


def test_a_misspelt_override_is_refused_not_ignored() -> None:
    with pytest.raises(TypeError), bootstrap.overridden(mail_sender=RecordingMailSender()):  # type: ignore[call-arg]
        pass


def test_building_a_shop_builds_no_aws_client() -> None:
    from chalicelib.adapters.aws import built_clients, reset_clients

    reset_clients()
    bootstrap.bootstrap(load_settings({"SHOPDESK_STAGE": "test"}))
    assert built_clients() == []


def test_overrides_replace_parts_and_the_repository_follows_the_store_and_clock() -> None:
    store, clock = InMemoryItemStore(), FixedClock(datetime(2026, 11, 24, tzinfo=UTC))
    settings = load_settings({"SHOPDESK_STAGE": "test"})
    bootstrap.reset()
    try:
        with bootstrap.overridden(settings, store=store, clock=clock) as shop:
            assert bootstrap.shop() is shop and shop.store is store and shop.clock is clock
            assert shop.inbound().repository is shop.repository and shop.sweep().clock is clock
        assert bootstrap.shop().store is not store
    finally:
        bootstrap.reset()


def test_the_shop_is_frozen() -> None:
    shop = bootstrap.bootstrap(load_settings({"SHOPDESK_STAGE": "test"}))
    with pytest.raises(AttributeError):
        shop.mail = RecordingMailSender()  # type: ignore[misc]
