"""The repository's records of sending exactly once: send claims with leases (acknowledgements, keyword
answers), agents' outbound messages written before the provider is called, with their idempotency keys,
and the queue of acknowledgements waiting for the provider (`ACKQ#<ticket>`, sparse index gsi9)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib.adapters import items, keys
from chalicelib.adapters.item_store import ABSENT, ConditionFailed, Delete, Item, ItemStore, Operation, Put
from chalicelib.domain.errors import AlreadyExists, VersionConflict
from chalicelib.domain.ids import iso, parse_iso
from chalicelib.domain.tickets import AckState, Message, Ticket
from chalicelib.ports import SENDING, SENT, Clock, InboundRecord, PendingAck, SendClaim
from chalicelib.resources import PENDING_ACK_INDEX

_CLAIM_ATTEMPTS = 4
PENDING_ACK_TTL_SECONDS = items.INBOUND_TTL_SECONDS  # a safety net: the drain empties the queue long before


def pending_ack_item(entry: PendingAck, expires_at: int) -> Item:
    return {**keys.pending_ack(entry.ticket_id), "entity": "pending_ack", "ticket_id": entry.ticket_id,
            "arrived_at": entry.arrived_at, "source": entry.source, "source_id": entry.source_id,
            "route": dict(entry.route), "expires_at": expires_at,
            **keys.pending_ack_index_keys(entry.ticket_id, entry.arrived_at)}


def pending_ack_from_item(item: Item) -> PendingAck:
    return PendingAck(ticket_id=item["ticket_id"], arrived_at=item["arrived_at"], source=item["source"],
                      source_id=item["source_id"], route=dict(item.get("route") or {}))


class SendRecords:
    """Part of TableRepository (same store and clock): the claim-before-send items."""

    store: ItemStore
    clock: Clock

    def _epoch_in(self, seconds: int) -> int:
        return int(self.clock.now().timestamp()) + seconds

    def _stamp(self) -> str:
        return iso(self.clock.now())  # the format services pass to record_inbound

    def _claim_put(self, claim: SendClaim, expect: dict[str, Any]) -> None:
        self.store.transact([Put(items.send_claim_item(claim, self._epoch_in(items.SEND_CLAIM_TTL_SECONDS)),
                                 expect)])

    def claim_send(self, key: str, owner: str, lease_until: datetime) -> SendClaim:
        mine = SendClaim(key=key, owner=owner, lease_until=iso(lease_until))
        expect: dict[str, Any] = {"pk": ABSENT}  # the usual case: nobody claimed it yet, one write
        for _ in range(_CLAIM_ATTEMPTS):
            try:
                self._claim_put(mine, expect)
                return mine
            except ConditionFailed:
                pass
            item = self.store.get(keys.send_claim(key))
            if item is None:  # cannot happen while claims are never deleted; claim afresh all the same
                mine, expect = replace(mine, version=1), {"pk": ABSENT}
                continue
            held = items.send_claim_from_item(item)
            if held.state != SENDING or parse_iso(held.lease_until) > self.clock.now():
                return held  # sent, or its sender is (as far as its lease says) still at it
            # Its sender died mid-send: take the claim over, conditional on the version we read.
            mine, expect = replace(mine, version=held.version + 1), {"version": held.version}
        raise VersionConflict(f"the send {key} kept changing hands")

    def mark_sent(self, claim: SendClaim, provider_id: str, header_message_id: str | None = None) -> SendClaim:
        sent = replace(claim, state=SENT, provider_id=provider_id, header_message_id=header_message_id,
                       version=claim.version + 1)
        try:
            self._claim_put(sent, {"version": claim.version, "owner": claim.owner})
        except ConditionFailed as exc:
            raise VersionConflict(f"the send {claim.key} was taken over while it went out") from exc
        return sent

    def release_send(self, claim: SendClaim) -> None:
        released = replace(claim, lease_until=self._stamp(), version=claim.version + 1)
        try:
            self._claim_put(released, {"version": claim.version, "owner": claim.owner, "state": SENDING})
        except ConditionFailed:
            pass  # taken over or sent meanwhile: nothing of ours to release

    def start_outbound(self, message: Message, idempotency_key: str | None = None) -> Message:
        operations: list[Operation] = [Put(items.message_item(message), {"pk": ABSENT})]
        if idempotency_key:
            operations.insert(0, Put(items.reply_key_item(message.ticket_id, idempotency_key, message,
                                                          self._epoch_in(items.REPLY_KEY_TTL_SECONDS)),
                                     {"pk": ABSENT}))
        try:
            self.store.transact(operations)
            return message
        except ConditionFailed as exc:
            if not idempotency_key or 0 not in exc.indexes:
                raise AlreadyExists("this outbound message was written before") from exc
            first = self.find_reply(message.ticket_id, idempotency_key)
            if first is None:  # abandoned in between (its send failed): the agent may send again
                raise VersionConflict("the idempotency key was released; send again") from exc
            return first

    def find_reply(self, ticket_id: str, idempotency_key: str) -> Message | None:
        used = self.store.get(keys.reply_key(ticket_id, idempotency_key))
        found = used and self.store.get(keys.message(ticket_id, used["created_at"], used["message_id"]))
        return items.message_from_item(found) if found else None

    def abandon_outbound(self, message: Message, idempotency_key: str | None = None) -> None:
        operations: list[Operation] = [Delete(keys.message(message.ticket_id, message.created_at, message.id))]
        if idempotency_key:
            operations.append(Delete(keys.reply_key(message.ticket_id, idempotency_key)))
        self.store.transact(operations)

    def mark_outbound(self, message: Message) -> None:
        try:
            self.store.transact([Put(items.message_item(message), {"delivery_state": SENDING})])
        except ConditionFailed:
            pass  # the record landed after all

    # ---- the pending-acknowledgement queue ----------------------------------------------------------
    def defer_ack(self, entry: PendingAck) -> None:
        self.store.transact([Put(pending_ack_item(entry, self._epoch_in(PENDING_ACK_TTL_SECONDS)))])

    def pending_acks(self, before: str, limit: int) -> list[PendingAck]:
        # Each shard is sorted by arrival; the oldest `limit` overall are among each shard's oldest `limit`.
        found: list[Item] = []
        for shard in keys.shards():
            page, _ = self.store.query(keys.pending_ack_partition(shard), index=PENDING_ACK_INDEX, limit=limit,
                                       sk_before=before)
            found += page
        found.sort(key=lambda item: str(item["gsi9sk"]))
        return [pending_ack_from_item(i) for i in found[:limit]]

    def skip_ack(self, ticket: Ticket, reason: str, inbound: InboundRecord | None = None) -> Ticket:
        updated = replace(ticket, ack_state=AckState.SKIPPED, ack_reason=reason, version=ticket.version + 1)
        operations: list[Operation] = [Put(items.ticket_item(updated), {"version": ticket.version}),
                                       Delete(keys.pending_ack(ticket.id))]
        if inbound:
            operations.append(Put(items.inbound_item(replace(inbound, reason=reason), self._stamp(),
                                                     self._epoch_in(items.INBOUND_TTL_SECONDS))))
        try:
            self.store.transact(operations)
        except ConditionFailed as exc:
            raise VersionConflict(f"ticket {ticket.id} changed while its acknowledgement was withdrawn") from exc
        return updated

    def drop_pending_ack(self, ticket_id: str) -> None:
        self.store.transact([Delete(keys.pending_ack(ticket_id))])
