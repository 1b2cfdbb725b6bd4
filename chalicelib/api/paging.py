"""Query strings and signed cursors of the paged reads beside GET /tickets: a ticket's messages, its
events, a customer's tickets. Cursors use the listing's CursorCodec, scoped to what they page (the
ticket or customer and the kind), so a cursor can neither be forged nor carried to another ticket."""
from __future__ import annotations

from chalicelib.api.listing import CursorCodec
from chalicelib.domain.errors import InvalidInput
from chalicelib.ports import ThreadPosition

PAGE_LIMIT = 25
MAX_LIMIT = 100
PAGED = frozenset({"limit", "cursor"})


def only(query: dict[str, str], known: frozenset[str]) -> None:
    """A parameter the route does not know is a 400 (as in listing), never silently ignored."""
    unknown = sorted(set(query) - known)
    if unknown:
        raise InvalidInput(f"unknown query parameter {unknown[0][:40]}", unknown[0][:40])


def page_query(query: dict[str, str], known: frozenset[str] = PAGED,
               default: int = PAGE_LIMIT) -> tuple[int, str | None]:
    """`limit` (1 to 100) and `cursor` of a paged read."""
    only(query, known)
    raw = query.get("limit")
    if raw is None:
        limit = default
    elif raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= MAX_LIMIT:
        limit = int(raw)
    else:
        raise InvalidInput(f"limit is a whole number from 1 to {MAX_LIMIT}", "limit")
    return limit, query.get("cursor") or None


def codec(secret: str, kind: str, owner_id: str) -> CursorCodec:
    return CursorCodec(secret, f"{kind}:{owner_id}")


def decode_key(cursors: CursorCodec, cursor: str) -> dict[str, str]:
    try:
        return cursors.decode(cursor)
    except InvalidInput as exc:
        raise InvalidInput("cursor is not one this API gave out for this page", "cursor") from exc


def encode_position(cursors: CursorCodec, position: ThreadPosition | None) -> str | None:
    return cursors.encode({"at": position.at, "id": position.id}) if position else None


def decode_position(cursors: CursorCodec, cursor: str) -> ThreadPosition:
    key = decode_key(cursors, cursor)
    if set(key) != {"at", "id"}:
        raise InvalidInput("cursor is not one this API gave out for this page", "cursor")
    return ThreadPosition(key["at"], key["id"])
