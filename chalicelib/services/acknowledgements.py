"""Recording an acknowledgement that has already gone out, on any channel."""
from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.errors import TransientFailure, VersionConflict
from chalicelib.domain.tickets import AckState
from chalicelib.ports import AckRecord, TicketRepository

_RECORD_ATTEMPTS = 3


def record_sent_acknowledgement(repository: TicketRepository, record: AckRecord) -> None:
    """Writes the record of a sent acknowledgement, retrying here rather than failing the handler:
    the message is out, and if this record were lost, the channel's retry would send it again."""
    for attempt in range(_RECORD_ATTEMPTS):
        try:
            repository.record_ack(record)
            return
        except VersionConflict:
            fresh = repository.get_ticket(record.ticket.id)
            if fresh is None or fresh.ack_state is AckState.SENT:
                return
            record = replace(record, ticket=fresh)
        except Exception:
            # Any storage failure: we still know the message went, so try again before giving up.
            if attempt == _RECORD_ATTEMPTS - 1:
                raise
    raise TransientFailure("could not record a sent acknowledgement")
