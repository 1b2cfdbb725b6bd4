"""Pseudonyms for personal data in logs, metrics and keys: stable, short, not reversible by reading."""
from __future__ import annotations

import hashlib


def pseudonym(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode("utf-8", "surrogateescape")).hexdigest()[:16]
