"""parse_email and visible_text against mail written by others (../shared/corpus); skipped when absent."""
from __future__ import annotations

import json
import time
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path

import pytest

from chalicelib.mail.parse import parse_email

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
MAIL_FOLDERS = ("cpython-email", "email-reply-parser", "talon")
# Measured shares of files whose visible_text equals the expectation, rounded down to 0.05.
# email-reply-parser: 24/24. talon: 9/12; its expectations come from talon's own trimmer, which keeps
# "Sent from my iPhone" and a Sparrow signature that email_reply_parser drops, and it recognises the
# Russian Android quote header that email_reply_parser does not.
REPLY_SHARE_FLOOR = {"email-reply-parser": 1.0, "talon": 0.75}

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return [path for folder in MAIL_FOLDERS for path in sorted((CORPUS / folder).iterdir())
            if path.is_file() and path.suffix != ".json"]


def _own_parts(message: Message) -> list[Message]:
    """The parts of a mail itself, not those of the mails it forwards."""
    if message.get_content_maintype() == "message":
        return []
    payload = message.get_payload()
    if isinstance(payload, list):
        return [part for child in payload if isinstance(child, Message) for part in _own_parts(child)]
    return [message]


def has_text_part(raw: bytes) -> bool:
    """An independent opinion (the stdlib's compat32 view) on whether the mail has readable text."""
    message = message_from_bytes(raw, policy=policy.compat32)
    for part in [message, *_own_parts(message)]:
        if part.is_multipart() or part.get_content_type() not in ("text/plain", "text/html"):
            continue
        if part.get_content_disposition() == "attachment":
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes) and payload.strip():
            return True
    return False


@pytest.mark.parametrize("path", corpus_files(), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_corpus_mail_parses(path: Path) -> None:
    raw = path.read_bytes()
    headers = message_from_bytes(raw, policy=policy.compat32)

    parsed = parse_email(raw)

    if "@" in str(headers.get("From", "")):
        assert parsed.sender is not None
        assert "@" in parsed.sender.email
    if str(headers.get("Subject", "")).strip():
        assert parsed.subject
    if has_text_part(raw):
        assert parsed.text.strip()
    for attachment in parsed.attachments:
        assert attachment.size == len(attachment.open_payload())


def reply_share(folder: str) -> float:
    expected: dict[str, str] = json.loads((CORPUS / folder / "expected.json").read_text(encoding="utf-8"))
    matches = sum(
        parse_email((CORPUS / folder / name).read_bytes()).visible_text.strip() == text.strip()
        for name, text in expected.items()
    )
    return matches / len(expected)


@pytest.mark.parametrize("folder", sorted(REPLY_SHARE_FLOOR))
def test_reply_text_matches_the_expectations(folder: str) -> None:
    share = reply_share(folder)

    print(f"{folder}: visible_text matches expected.json for {share:.0%} of files")
    assert share >= REPLY_SHARE_FLOOR[folder]


def test_pathological_reply_is_fast() -> None:
    raw = (CORPUS / "email-reply-parser" / "pathological.txt").read_bytes()
    started = time.process_time()

    parse_email(raw)

    assert time.process_time() - started < 1.0
