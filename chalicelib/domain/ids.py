"""Identifiers and timestamps: unguessable ids and sortable UTC time strings."""
from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime


def new_id(nbytes: int = 15) -> str:
    """Unguessable, lower-case base32 (safe in URLs and in case-folding mail local parts)."""
    return base64.b32encode(secrets.token_bytes(nbytes)).decode("ascii").lower().rstrip("=")


def iso(moment: datetime) -> str:
    """Fixed-width UTC ISO-8601 with microseconds, so strings sort as times do."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
