"""What a page of the thread carries: bounded previews, no HTML, a byte budget per page, message refs that
name nothing but a message's own key."""
from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.api.presenters import (
    PAGE_BYTES,
    PREVIEW_BYTES,
    clipped,
    message_out,
    message_ref,
    parse_message_ref,
    thread_out,
)
from chalicelib.domain.ids import new_id
from chalicelib.domain.tickets import Attachment, Channel, Direction, Message


def message(text: str, html: str | None = None, **fields: object) -> Message:
    return Message(id=new_id(), ticket_id="t1", created_at="2026-11-25T09:00:00.000000Z", direction=Direction.INBOUND,
                   channel=Channel.EMAIL, from_address="a@customer.example", body_text=text, visible_text=text,
                   body_html=html, **fields)  # type: ignore[arg-type]


@given(st.text(max_size=3_000), st.integers(min_value=0, max_value=4_000))
def test_a_clipped_text_is_the_longest_prefix_that_fits(text: str, budget: int) -> None:
    cut, was_cut = clipped(text, budget)
    assert text.startswith(cut) and len(json.dumps(cut)) - 2 <= budget
    assert was_cut == (cut != text)
    if was_cut:
        assert len(json.dumps(text[:len(cut) + 1])) - 2 > budget


def test_a_page_carries_previews_without_html() -> None:
    huge = message("😀" * 100_000, html="<p>" + "x" * 200_000 + "</p>")
    out = message_out(huge, None, preview=True)
    assert out["body_html"] is None and out["has_html"] and out["truncated"]
    assert len(json.dumps(out["body_text"])) - 2 <= PREVIEW_BYTES
    whole = message_out(huge, None)
    assert whole["body_html"] == huge.body_html and whole["body_text"] == huge.body_text and not whole["truncated"]
    small = message_out(message("thanks"), None, preview=True)
    assert not small["truncated"] and not small["has_html"] and small["body_text"] == "thanks"
    in_blob = message_out(message("preview", body_key="s3://b/k"), None, preview=True)
    assert in_blob["truncated"] and in_blob["has_html"]  # the whole body, HTML if any, is in the blob


def test_a_page_stops_at_its_byte_budget_and_always_moves_on() -> None:
    many = [message("é" * 50_000, attachments=[Attachment(f"f{n}.pdf", "application/pdf", 10, f"k{n}")
                                              for n in range(20)]) for _ in range(100)]
    shown, cut = thread_out(many, None)
    assert cut and 1 <= len(shown) < 100
    assert sum(len(json.dumps(m)) + 1 for m in shown) <= PAGE_BYTES
    assert [m["id"] for m in shown] == [m.id for m in many[:len(shown)]]
    one, cut_one = thread_out(many[:1], None)
    assert len(one) == 1 and not cut_one


def test_a_message_ref_round_trips_and_junk_is_nothing() -> None:
    shown = message("hi")
    assert parse_message_ref(message_ref(shown)) == (shown.created_at, shown.id)
    for junk in ("", "x", "%%%", "AAAA", "a" * 200, message_ref(shown) + "A",
                 "fA", "MjAyNnxpZCMx", "fHg", "MjAyNgp8eA"):  # "2026|id#1", "|x", "2026\n|x"
        assert parse_message_ref(junk) is None, junk
