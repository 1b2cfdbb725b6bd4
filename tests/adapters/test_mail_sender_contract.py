"""One contract for the MailSender port, run against the recording twin and SES (moto): the same ids,
the same refusal of an identity SES has not verified."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.adapters.ses_mail import RecordingMailSender
from chalicelib.domain.errors import Rejected
from chalicelib.ports import MailSender, OutgoingEmail
from tests.conftest import REGION, STORE_DOMAIN

UNVERIFIED = "support@unverified.example"
CUSTOMER = "anna@customer.example"


@pytest.fixture(params=["recording", "ses"])
def sender(request: pytest.FixtureRequest) -> Iterator[MailSender]:
    if request.param == "recording":
        fake = RecordingMailSender(REGION)
        fake.refuse.add(UNVERIFIED)  # as moto's SES, which verified only STORE_DOMAIN
        yield fake
        return
    request.getfixturevalue("aws")
    from chalicelib import bootstrap

    yield bootstrap.shop().mail


def mail(from_address: str = f"support@{STORE_DOMAIN}", to: tuple[str, ...] = (CUSTOMER,)) -> OutgoingEmail:
    return OutgoingEmail(from_address=from_address, from_name="Shop Support", to=list(to), subject="Your order",
                         text="It ships today.", message_id=f"<ack-1@{STORE_DOMAIN}>")


def test_a_sent_mail_gets_a_provider_id_and_the_rewritten_message_id(sender: MailSender) -> None:
    sent = sender.send(mail())
    assert sent.provider_id
    assert sent.header_message_id == f"{sent.provider_id}@{REGION}.amazonses.com"
    assert sender.send(mail()).provider_id != sent.provider_id


def test_an_unverified_sender_identity_is_rejected(sender: MailSender) -> None:
    with pytest.raises(Rejected) as failure:
        sender.send(mail(from_address=UNVERIFIED))
    assert "MessageRejected" in str(failure.value)
    assert failure.value.recipient == CUSTOMER  # one recipient: the refusal concerns that mail
    assert CUSTOMER not in str(failure.value)  # the text may be logged; the recipient is a field


def test_a_refusal_of_a_mail_to_several_names_no_single_recipient(sender: MailSender) -> None:
    with pytest.raises(Rejected) as failure:
        sender.send(mail(from_address=UNVERIFIED, to=(CUSTOMER, "bob@customer.example")))
    assert failure.value.recipient is None
