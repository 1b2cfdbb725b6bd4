"""Outbound MIME keeps threading headers intact, however long the ids."""
from __future__ import annotations

import email
from email.policy import default

from chalicelib.mail.compose import build_mime
from chalicelib.ports import OutgoingEmail

LONG_ID = "0107019a1b2c3d4e-5f6a7b8c-9d0e-1f2a-3b4c-5d6e7f8a9b0c-000000@eu-central-1.amazonses.com"


def test_long_message_ids_are_never_encoded() -> None:
    raw = build_mime(OutgoingEmail(
        from_address="support@shop.example", from_name="Example Shop Support", to=["c@customer.example"],
        subject="Re: [#1001] Ünïcode subject", text="Hello\n", message_id="reply.abc@shop.example",
        reply_to="support+abc.def@shop.example", in_reply_to=LONG_ID, references=[LONG_ID, "other@x.example"] * 3,
        extra_headers={"Auto-Submitted": "auto-replied"},
    ))
    assert b"=?utf-8?q?=3C" not in raw
    message = email.message_from_bytes(raw, policy=default)
    assert message["In-Reply-To"] == f"<{LONG_ID}>"
    assert message["References"].split()[-2:] == [f"<{LONG_ID}>", "<other@x.example>"]
    assert message["Subject"] == "Re: [#1001] Ünïcode subject"
    assert message["Message-ID"] == "<reply.abc@shop.example>"
