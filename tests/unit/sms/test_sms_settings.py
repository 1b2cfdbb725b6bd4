"""SMS settings: numbers map to queues (E.164 keys), each queue texts from its own number; bad values fail early."""
from __future__ import annotations

import json

import pytest

from chalicelib.config import SettingsError, load_settings

ADDRESSES = json.dumps({"support@shop.example": "support", "shipping@shop.example": "shipping",
                        "returns@shop.example": "returns"})


def settings(**env: str) -> object:
    return load_settings({"SHOPDESK_STAGE": "test", "SHOPDESK_ADDRESSES": ADDRESSES, **env})


def test_numbers_are_normalized_and_pick_queues_and_origination() -> None:
    config = load_settings({"SHOPDESK_ADDRESSES": ADDRESSES, "SHOPDESK_SMS_NUMBERS": json.dumps(
        {"+1 212 555 0101": "support", "12345": "shipping"})})
    assert dict(config.sms_numbers) == {"+12125550101": "support", "12345": "shipping"}
    assert config.sms_queue_for("+12125550101") == "support"
    assert config.sms_queue_for("+19999999999") == "support"  # unknown number: the default queue
    assert config.sms_origination_for("shipping") == "12345"
    assert config.sms_origination_for("returns") == "+12125550101"  # no number of its own: the default queue's
    assert config.sms_max_segments == 2 and config.sms_reopen_window_days == 7 and config.phone_region == "DE"


def test_without_numbers_sns_chooses() -> None:
    config = load_settings({"SHOPDESK_STAGE": "test"})
    assert config.sms_numbers == {} and config.sms_origination_for("support") is None


@pytest.mark.parametrize(("name", "value", "message"), [
    ("SHOPDESK_SMS_NUMBERS", "+12125550101", "JSON object"),
    ("SHOPDESK_SMS_NUMBERS", json.dumps({"+49 1": "support"}), "not a phone number"),
    ("SHOPDESK_SMS_NUMBERS", json.dumps({"+12125550101": "billing"}), "queue"),
    ("SHOPDESK_SMS_MAX_SEGMENTS", "0", "1 to 10"),
    ("SHOPDESK_SMS_MAX_SEGMENTS", "two", "1 to 10"),
    ("SHOPDESK_PHONE_REGION", "Germany", "two-letter"),
])
def test_bad_values_fail_at_load(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        settings(**{name: value})
