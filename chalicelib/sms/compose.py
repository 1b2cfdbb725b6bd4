"""The short texts ShopDesk sends on its own (acknowledgement, keyword answers), kept within a segment budget."""
from __future__ import annotations

from collections.abc import Iterable

from chalicelib.sms.segments import fits

OPT_OUT_HINT = "Reply STOP to opt out."


def _first_that_fits(candidates: Iterable[str], max_segments: int) -> str:
    # Each list ends with a wording short enough for one segment even with a long store name cut down.
    options = list(candidates)
    for text in options:
        if fits(text, max_segments):
            return text
    return options[-1][: 67 * max_segments].rstrip()


def acknowledgement(store: str, number: int, promise: str, max_segments: int) -> str:
    """The answer to a text that opened ticket #`number`: who we are, the number, when a person answers
    (no `promise`: the one made at arrival passed while the acknowledgement waited, so none is repeated)."""
    if not promise:
        return _first_that_fits([
            f"{store}: thanks for your message. It is ticket #{number}; a person will reply as soon as they can. "
            f"{OPT_OUT_HINT}",
            f"Ticket #{number}. We will reply soon. {OPT_OUT_HINT}",
        ], max_segments)
    return _first_that_fits([
        f"{store}: thanks for your message. It is ticket #{number}; we will reply by {promise}. {OPT_OUT_HINT}",
        f"{store}: ticket #{number}. We will reply by {promise}. {OPT_OUT_HINT}",
        f"Ticket #{number}: we will reply by {promise}. {OPT_OUT_HINT}",
        f"Ticket #{number}. We will reply soon. {OPT_OUT_HINT}",
    ], max_segments)


def opt_out_confirmation(store: str, max_segments: int) -> str:
    return _first_that_fits([
        f"{store}: you will get no more texts from us. Reply START to receive texts again.",
        "You will get no more texts from us. Reply START to undo.",
    ], max_segments)


def opt_in_confirmation(store: str, max_segments: int) -> str:
    return _first_that_fits([
        f"{store}: you will receive our texts again. {OPT_OUT_HINT}",
        f"Texts are on again. {OPT_OUT_HINT}",
    ], max_segments)


def help_text(store: str, email: str | None, max_segments: int) -> str:
    """HELP: who is texting and how else to reach a person."""
    by_mail = f" or email {email}" if email else ""
    return _first_that_fits([
        f"{store} customer support: reply to this number with your question{by_mail}. {OPT_OUT_HINT}",
        f"{store} support: text your question here{by_mail}. {OPT_OUT_HINT}",
        f"Support: text your question here. {OPT_OUT_HINT}",
    ], max_segments)
