"""Which ticket a customer's next text continues: SMS has no subject or Message-ID, only the time since the last one."""
from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.domain.threading import ReopenRule, takes_message
from chalicelib.domain.tickets import Ticket

DEFAULT_WINDOW_DAYS = 7


def continues(ticket: Ticket | None, now: datetime, window_days: int = DEFAULT_WINDOW_DAYS) -> bool:
    """True when a new text from the customer belongs on `ticket` (their latest SMS conversation):
    it is still being worked on (new, open, pending; spam stays spam), or it was resolved within the
    window (the text reopens it, or a "yes" closes it). A closed ticket never takes new texts."""
    if ticket is None or ticket.merged_into:
        return False
    return takes_message(ticket, now, sms_reopen_rule(window_days))


def sms_reopen_rule(window_days: int = DEFAULT_WINDOW_DAYS) -> ReopenRule:
    return ReopenRule(closed_days=None, resolved_days=window_days)


def ordered_at(sent_at: datetime | None, delivered_at: datetime | None, now: datetime,
               trust_days: int = DEFAULT_WINDOW_DAYS) -> datetime:
    """Where a text goes in its thread: the carrier's time where given, else when it was delivered to
    us, else now. A time in the future or implausibly old (a replayed or forged stamp) is not trusted;
    an out-of-order text then still lands, at the time it reached us."""
    for moment in (sent_at, delivered_at):
        if moment is not None and now - timedelta(days=trust_days) <= moment <= now:
            return moment
    return now
