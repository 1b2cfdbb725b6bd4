"""Inbound MIME to ParsedEmail: never fails on malformed mail, only on mail that breaks MailLimits."""
from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email import errors, policy
from email.feedparser import BytesFeedParser
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import IO

from chalicelib.mail.addresses import addresses, rejected
from chalicelib.mail.banner import BANNER_DEFECT, MAIL_HEADERS, without_banner
from chalicelib.mail.charsets import (
    FOLD,
    codec_for,
    codec_for_stdlib,
    decode_bytes,
    decode_words,
    fix_raw,
    header_text,
    normalize_newlines,
    unfold,
)
from chalicelib.mail.header_policy import HeaderClasses, OncePerMessagePolicy
from chalicelib.mail.html import (
    DISPLAY_HTML_CHARS,
    SHORTENED_NOTE,
    display_html,
    html_to_text,
    nesting_depth,
    rough_word_count,
    sanitize_html,
)
from chalicelib.mail.model import (
    AttachmentPart,
    BounceReport,
    MailLimitExceeded,
    MailLimits,
    ParsedEmail,
)
from chalicelib.mail.raw_headers import RawHeaderDecoder
from chalicelib.mail.raw_limits import check_raw, file_chunks
from chalicelib.mail.reply_trim import visible_text
from chalicelib.mail.spill import SpillingMessage

# Large attachments leave the tree for a temporary file as they are parsed (mail/spill.py).
_PARSE_POLICY = OncePerMessagePolicy(header_factory=HeaderClasses(), message_factory=SpillingMessage)
# Forwarded mail is stored as the customer's client sent it: no refolding of its headers.
_SERIALIZE_POLICY = policy.default.clone(refold_source="none")
_DEFAULT_LIMITS = MailLimits()
_FEED_BYTES = 1024 * 1024  # a mail in memory is fed this much at a time (a file: raw_limits.CHUNK_BYTES)

# ---------------------------------------------------------------------------------------------- headers


def _raw_headers(message: Message, decoder: RawHeaderDecoder) -> dict[str, list[str]]:
    """Lower-cased name -> values as text (8-bit decoded, unfolded), encoded words still encoded."""
    headers: dict[str, list[str]] = {}
    for name, raw in message.raw_items():
        headers.setdefault(name.strip().lower(), []).append(unfold(decoder.text(str(raw))))
    return headers


def _declared_charsets(parts: Iterable[tuple[Message, str]]) -> list[str]:
    """The charsets a mail's text parts declare, in order: the best guess for its raw 8-bit headers."""
    charsets: list[str] = []
    for part, content_type in parts:
        if not content_type.startswith("text/"):
            continue
        try:
            charset = part.get_content_charset()
        except Exception:
            continue
        if charset and charset not in charsets:
            charsets.append(charset)
    return charsets


def _raw_values(message: Message, name: str) -> list[str]:
    return [unfold(fix_raw(str(raw))) for key, raw in message.raw_items() if key.strip().lower() == name]


_BRACKETED_ID = re.compile(r"<([^<>\s]+)>")


def _message_ids(values: Iterable[str], *, loose: bool = False) -> list[str]:
    """Ids without brackets, in order, deduplicated. Unbracketed tokens count only if they have an '@'
    (or, with `loose`, when a Message-ID is one bare token)."""
    ids: list[str] = []
    for value in values:
        if "=?" in value:
            # Python's own email package folds a long id into an RFC 2047 encoded word; decode it
            # so replies from such senders still thread.
            value = decode_words(value)
        found = _BRACKETED_ID.findall(value)
        if not found:
            tokens = [token.strip("<>,;()\"'") for token in value.split()]
            found = [token for token in tokens if "@" in token]
            if not found and loose and len(tokens) == 1:
                found = tokens
        ids.extend(token for token in found if token and token not in ids)
    return ids


def _date(values: list[str]) -> datetime | None:
    if not values:
        return None
    try:
        parsed = parsedate_to_datetime(values[0])
    except Exception:  # ValueError, TypeError, OverflowError... all mean "no usable date"
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _return_path(values: list[str]) -> str | None:
    if not values:
        return None
    value = values[0].strip()
    if not value.strip("<> \t"):
        return ""
    pairs = getaddresses([value])
    email = (pairs[0][1] if pairs else "") or value.strip("<> ")
    return email.strip().lower()


# ---------------------------------------------------------------------------------------------- parts


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # a broken transfer encoding still leaves the raw text
        data = None
    if isinstance(data, bytes):
        return data
    try:
        payload = part.get_payload()
    except Exception:  # it decodes 8-bit text with the declared charset, whose name may be garbage
        return b""
    return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def _children(part: Message) -> list[Message] | None:
    """The parts inside a multipart or message/rfc822 part; None for a leaf. Never decodes a leaf's body
    (get_payload() would, with the declared charset, only for us to throw the text away)."""
    if not part.is_multipart():
        return None
    payload = part.get_payload()
    return [child for child in payload if isinstance(child, Message)] if isinstance(payload, list) else None


def _text_of(part: Message) -> str:
    """A text part's content as str: the stdlib's get_content() for a charset it reads as we would;
    our own decoding when it fails, when the label is missing or vague (it would assume ASCII), or when we
    decode the label as a superset (gb2312 as gb18030)."""
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    if isinstance(part, EmailMessage) and codec_for(charset) is not None \
            and codec_for(charset) == codec_for_stdlib(charset):
        try:
            content = part.get_content()
            if isinstance(content, str):
                return normalize_newlines(content)
        except Exception:  # fall back to decoding the payload ourselves
            pass
    return normalize_newlines(decode_bytes(_payload_bytes(part), charset))


# Source characters per decoded character, at most: UTF-8 takes up to 4 bytes a character, base64 4/3 of a
# byte plus line breaks, quoted-printable 3 per byte.
_SOURCE_PER_CHAR = {"base64": 6, "quoted-printable": 12}
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")


def _text_head(part: Message, max_chars: int) -> str:
    """_text_of for a part whose text is surely longer than `max_chars`: only a head of at least that many
    characters is decoded, not 40 MB into a copy or two."""
    try:
        payload = part.get_payload()
    except Exception:
        payload = None
    encoding = "".join(_raw_values(part, "content-transfer-encoding")[:1]).strip().lower()
    source_chars = _SOURCE_PER_CHAR.get(encoding, 4) * max_chars
    if not isinstance(payload, str) or len(payload) <= source_chars:
        return _text_of(part)
    head = payload[:source_chars]
    try:
        if encoding == "base64":
            letters = _NOT_BASE64.sub("", head)
            data = binascii.a2b_base64(letters[: len(letters) // 4 * 4])
        elif encoding == "quoted-printable":
            data = binascii.a2b_qp(head.encode("ascii", "surrogateescape"))
        else:
            data = head.encode("ascii", "surrogateescape")
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return _text_of(part)
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    return normalize_newlines(decode_bytes(data, charset))


def _message_bytes(part: Message) -> bytes:
    """The bytes of the message enclosed in a message/rfc822 part."""
    payload = _children(part)
    if not payload:
        return _payload_bytes(part)
    try:
        data = payload[0].as_bytes(policy=_SERIALIZE_POLICY)
    except Exception:  # the generator chokes on some broken headers; keep what it can write
        try:
            data = payload[0].as_bytes(policy=policy.compat32)
        except Exception:
            return b""
    # The parser reads an encoded message/rfc822 body as a headerless message; undo the encoding.
    encoding = "".join(_raw_values(part, "content-transfer-encoding")[:1]).strip().lower()
    try:
        if encoding == "base64":
            return base64.b64decode(data)
        if encoding == "quoted-printable":
            return binascii.a2b_qp(data)
    except (binascii.Error, ValueError):
        pass
    return data


_FILENAME_JUNK = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_EXTENSIONS = {
    "application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif",
    "image/webp": ".webp", "image/heic": ".heic", "image/tiff": ".tif", "image/bmp": ".bmp",
    "image/svg+xml": ".svg", "text/plain": ".txt", "text/html": ".html", "text/csv": ".csv",
    "text/calendar": ".ics", "message/rfc822": ".eml", "message/global": ".eml", "application/zip": ".zip",
    "application/json": ".json", "application/xml": ".xml", "text/xml": ".xml", "application/msword": ".doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/octet-stream": ".bin", "audio/mpeg": ".mp3", "video/mp4": ".mp4",
}
_MAX_FILENAME = 200


def _extension(content_type: str) -> str:
    if content_type in _EXTENSIONS:
        return _EXTENSIONS[content_type]
    import mimetypes  # only for unusual types: its first use reads the system's mime.types

    return mimetypes.guess_extension(content_type) or ""


def _safe_filename(name: str, index: int, content_type: str) -> str:
    """A name safe for storage and download: last path component, no control or bidi characters."""
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _FILENAME_JUNK)
    name = " ".join(name.split()).strip(". ")
    if len(name) > _MAX_FILENAME:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[: _MAX_FILENAME - len(extension) - 1].rstrip(". ") + "." + extension
        else:
            name = name[:_MAX_FILENAME]
    return name or f"attachment-{index}{_extension(content_type)}"


def _filename(part: Message, decoder: RawHeaderDecoder) -> str:
    try:
        name = part.get_filename()  # RFC 2231 and, with policy.default, RFC 2047 decoded
    except Exception:
        name = None
    return decode_words(decoder.text(str(name))) if name else ""


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _opener(read: Callable[[Message], bytes], part: Message) -> Callable[[], bytes]:
    def open_payload() -> bytes:
        return read(part)

    return open_payload


# Text parts without a name are pieces of the body (alternatives, footers, DSN headers), not files.
_BODY_LIKE = frozenset({"text/plain", "text/html", "text/enriched", "text/rfc822-headers"})
_ENCLOSED_MESSAGE = frozenset({"message/rfc822", "message/global"})
_RETURNED_HEADERS = frozenset({"text/rfc822-headers", "message/global-headers"})
_DELIVERY_STATUS = frozenset({"message/delivery-status", "message/global-delivery-status"})


def _is_attachment(part: Message, content_type: str, filename: str) -> bool:
    if content_type in _ENCLOSED_MESSAGE or filename or _disposition(part) == "attachment":
        return True
    return content_type not in _BODY_LIKE and not content_type.startswith("multipart/")


def _attachment(part: Message, content_type: str, filename: str, index: int) -> AttachmentPart:
    content_id = "".join(_raw_values(part, "content-id")[:1]).strip().strip("<>").strip()
    disposition = _disposition(part) or ("inline" if content_id else "attachment")
    if content_type in _ENCLOSED_MESSAGE:
        read = _message_bytes
        payload = _children(part)
        if payload:
            subjects = _raw_values(payload[0], "subject")
            filename = " ".join(decode_words(subjects[0]).split()) + ".eml" if subjects else filename
    else:
        read = _payload_bytes
    return AttachmentPart(
        filename=_safe_filename(filename, index, content_type),
        content_type=content_type,
        size=_decoded_size(part, read),
        disposition="inline" if disposition == "inline" else "attachment",
        content_id=content_id,
        open_payload=_opener(read, part),
        open_file=part.spilled_file if isinstance(part, SpillingMessage) else None,
    )


def _decoded_size(part: Message, read: Callable[[Message], bytes]) -> int:
    if isinstance(part, SpillingMessage) and part.spilled_size is not None:
        return part.spilled_size  # decoded once already, into its file
    return len(read(part))  # decoded once for the size, then dropped; open_payload decodes again


class _Walk:
    """One pass over the MIME tree: enforces the limits and sorts parts into leaves, reports, defects."""

    def __init__(self, message: Message, limits: MailLimits) -> None:
        self.leaves: list[tuple[Message, str]] = []
        self.reports: list[Message] = []
        self.defects: list[str] = []
        self.parents: dict[int, Message] = {}
        stack: list[tuple[Message, int, bool]] = [(message, 0, True)]
        parts = 0
        while stack:
            part, depth, ours = stack.pop()
            parts += 1
            if parts > limits.max_parts:
                raise MailLimitExceeded(f"max_parts exceeded (more than {limits.max_parts} MIME parts)")
            if depth > limits.max_depth:
                raise MailLimitExceeded(f"max_depth exceeded (nesting deeper than {limits.max_depth})")
            header_bytes = sum(len(name) + len(str(value)) + 4 for name, value in part.raw_items())
            if header_bytes > limits.max_header_bytes:
                raise MailLimitExceeded(
                    f"max_header_bytes exceeded ({header_bytes} > {limits.max_header_bytes})")
            for defect in part.defects:
                if type(defect).__name__ not in self.defects:
                    self.defects.append(type(defect).__name__)
            content_type = _content_type(part)
            payload = _children(part)
            if content_type in _DELIVERY_STATUS or payload is None:
                if ours:
                    self.leaves.append((part, content_type))
                continue
            if content_type in _ENCLOSED_MESSAGE:
                if ours:
                    self.leaves.append((part, content_type))
                ours = False  # a forwarded mail is one attachment; its own parts are not ours
            elif content_type == "multipart/report" and ours:
                self.reports.append(part)
            for child in payload:
                self.parents[id(child)] = part
            stack.extend((child, depth + 1, ours) for child in reversed(payload))


# ---------------------------------------------------------------------------------------------- bounces


def _status_blocks(part: Message) -> list[dict[str, str]]:
    payload = _children(part)
    if payload is not None:
        return [{name.strip().lower(): header_text(str(value)) for name, value in block.raw_items()}
                for block in payload]
    blocks: list[dict[str, str]] = []
    for chunk in re.split(r"\n\s*\n", normalize_newlines(_text_of(part))):
        fields: dict[str, str] = {}
        for line in FOLD.sub("", chunk.replace("\n ", " ").replace("\n\t", " ")).split("\n"):
            name, colon, value = line.partition(":")
            if colon:
                fields[name.strip().lower()] = value.strip()
        if fields:
            blocks.append(fields)
    return blocks


def _bounce(report: Message) -> BounceReport | None:
    children = _children(report) or []
    try:
        report_type = str(report.get_param("report-type", "")).lower()
    except Exception:
        report_type = ""
    # Some MTAs omit report-type; a delivery-status part says what the report is just as well.
    if report_type != "delivery-status" and not any(_content_type(c) in _DELIVERY_STATUS for c in children):
        return None
    recipients: list[str] = []
    action = status = reporting_mta = ""
    original_message_id: str | None = None
    for child in children:
        content_type = _content_type(child)
        if content_type in _DELIVERY_STATUS:
            for block in _status_blocks(child):
                reporting_mta = reporting_mta or block.get("reporting-mta", "")[:255]
                recipient = block.get("final-recipient") or block.get("original-recipient") or ""
                block_action = block.get("action", "").lower()
                if not recipient or block_action in ("delivered", "relayed", "expanded"):
                    continue
                email = recipient.rpartition(";")[2].strip().strip("<>").lower()
                if "@" in email and email not in recipients:
                    recipients.append(email)
                if not action:
                    action, status = block_action, (block.get("status", "").split() or [""])[0]
        elif content_type in _ENCLOSED_MESSAGE and original_message_id is None:
            payload = _children(child)
            if payload:
                original_message_id = next(iter(_message_ids(_raw_values(payload[0], "message-id"))), None)
        elif content_type in _RETURNED_HEADERS and original_message_id is None:
            headers = BytesHeaderParser(policy=policy.compat32).parsebytes(_payload_bytes(child))
            original_message_id = next(iter(_message_ids(_raw_values(headers, "message-id"))), None)
    return BounceReport(recipients, original_message_id, action, status, reporting_mta)


# ---------------------------------------------------------------------------------------------- entry point


def _body_part(message: Message, subtype: str) -> Message | None:
    if not isinstance(message, EmailMessage):
        return None
    try:
        return message.get_body(preferencelist=(subtype,))
    except Exception:
        return None


def _html_fragments(html_part: Message | None, walk: _Walk) -> list[Message]:
    """The HTML body, in pieces when Apple Mail wrote it that way: a multipart/mixed of text/html parts
    with the attachments between them, each piece a part of what the customer typed."""
    if html_part is None:
        return []
    parent = walk.parents.get(id(html_part))
    if parent is None or _content_type(parent) != "multipart/mixed":
        return [html_part]
    return [part for part in _children(parent) or []
            if part is html_part or (_content_type(part) == "text/html" and not _has_filename(part)
                                     and _disposition(part) != "attachment")]


def _has_filename(part: Message) -> bool:
    try:
        return bool(part.get_filename())
    except Exception:
        return False


# The HTML alternative is the body when it holds this many times the plain part's words, and a few more:
# an empty plain part, a lone "Sent from my iPhone", the text before the first inline image only.
_RICHER_FACTOR = 2
_RICHER_MARGIN = 5


def _richer_text(plain: str, html: str) -> str:
    """The plain alternative, unless the HTML one clearly says more; then the text of the HTML."""
    plain_words = len(plain.split())
    needed = _RICHER_FACTOR * plain_words + _RICHER_MARGIN if plain_words else 1
    # The regex count is an upper bound of the parser's: only a likely winner pays for html_to_text.
    if rough_word_count(html) < needed:
        return plain if plain.strip() else html_to_text(html)
    html_text = html_to_text(html)
    return html_text if len(html_text.split()) >= needed or not plain.strip() else plain


def _parse(raw: bytes | IO[bytes], limits: MailLimits) -> Message:
    try:
        parser = BytesFeedParser(policy=_PARSE_POLICY.for_one_message(limits.max_parameters, limits.max_headers))
        # Fed in pieces: parsebytes would first decode all of a 40 MB mail into one more 40 MB string.
        if isinstance(raw, bytes):
            for start in range(0, len(raw), _FEED_BYTES):
                parser.feed(raw[start:start + _FEED_BYTES])
        else:
            for chunk in file_chunks(raw):
                parser.feed(chunk)
        return parser.close()
    except RecursionError as exc:
        raise MailLimitExceeded(f"max_depth exceeded (nesting deeper than {limits.max_depth})") from exc


def _whole(raw: bytes | IO[bytes]) -> bytes:
    """All of the mail as bytes: only for what mail that is not quite a mail needs (a banner, no headers)."""
    if isinstance(raw, bytes):
        return raw
    raw.seek(0)
    return raw.read()


def parse_email(raw: bytes | IO[bytes], limits: MailLimits = _DEFAULT_LIMITS) -> ParsedEmail:
    """Parses one raw RFC 5322 mail. Raises only MailLimitExceeded; malformed input is decoded as best can.

    `raw` may be a binary file (a download on /tmp): it is then read a chunk at a time, never whole, and
    large attachments leave the parsed tree for temporary files as they are read (mail/spill.py)."""
    check_raw(raw, limits)
    message = _parse(raw, limits)
    unbannered = None
    if any(isinstance(defect, errors.MissingHeaderBodySeparatorDefect) for defect in message.defects):
        # Only mail whose headers stop at a line that is not a header pays for the look and the second parse.
        unbannered = without_banner(_whole(raw))
        if unbannered is not None:
            message = _parse(unbannered, limits)
    walk = _Walk(message, limits)
    if unbannered is not None:
        walk.defects.insert(0, BANNER_DEFECT)
    decoder = RawHeaderDecoder(lambda: [str(raw) for _, raw in message.raw_items()],
                               lambda: _declared_charsets(walk.leaves))
    raw_headers = _raw_headers(message, decoder)
    headers = {name: [decode_words(value).strip() for value in raw] for name, raw in raw_headers.items()}

    text_part, html_part = _body_part(message, "plain"), _body_part(message, "html")
    html_parts = _html_fragments(html_part, walk)
    html_source = "\n".join(_text_head(part, DISPLAY_HTML_CHARS) for part in html_parts) if html_parts else None
    shortened = False
    if html_source is not None:
        # Only the head of a huge HTML body is sanitized and converted; the raw mail keeps all of it.
        html_source, shortened = display_html(html_source)
        depth = nesting_depth(html_source, limits.max_html_depth)
        if depth > limits.max_html_depth:
            raise MailLimitExceeded(f"max_html_depth exceeded (HTML nested deeper than {limits.max_html_depth})")
    text = _text_of(text_part) if text_part is not None else ""
    if html_source:
        plain = text
        text = _richer_text(text, html_source)
        if shortened and text is not plain:
            text = f"{text}\n\n[{SHORTENED_NOTE}]"
    if not MAIL_HEADERS.intersection(raw_headers):
        # Not a mail at all, just a body: the parser may have taken a first line ("Note: ...") for a header.
        text = normalize_newlines(decode_bytes(_whole(raw), None))
    elif text_part is None and html_part is None and not message.is_multipart() \
            and _content_type(message).split("/")[0] in ("text", "multipart") \
            and _disposition(message) != "attachment":
        # A lone text part the stdlib will not call a body (text/enriched, a multipart without boundary).
        text = _text_of(message)

    attachments: list[AttachmentPart] = []
    bodies = {id(text_part), *map(id, html_parts)}
    for part, content_type in walk.leaves:
        if id(part) in bodies or content_type in _DELIVERY_STATUS:
            continue
        filename = _filename(part, decoder)
        if not _is_attachment(part, content_type, filename):
            continue
        if len(attachments) >= limits.max_attachments:
            raise MailLimitExceeded(f"max_attachments exceeded (more than {limits.max_attachments})")
        attachments.append(_attachment(part, content_type, filename, len(attachments) + 1))

    bounce = next((report for report in map(_bounce, walk.reports) if report is not None), None)
    senders = (addresses(raw_headers.get("from", []), limits.max_addresses)
               or addresses(raw_headers.get("sender", []), limits.max_addresses))
    rejected_sender = None if senders else (rejected(raw_headers.get("from", []))
                                            or rejected(raw_headers.get("sender", [])))
    subjects = headers.get("subject", [])
    return ParsedEmail(
        message_id=next(iter(_message_ids(raw_headers.get("message-id", [])[:1], loose=True)), None),
        in_reply_to=_message_ids(raw_headers.get("in-reply-to", [])),
        references=_message_ids(raw_headers.get("references", [])),
        sender=senders[0] if senders else None,
        reply_to=addresses(raw_headers.get("reply-to", []), limits.max_addresses),
        to=addresses(raw_headers.get("to", []), limits.max_addresses),
        cc=addresses(raw_headers.get("cc", []), limits.max_addresses),
        subject=" ".join(subjects[0].split()) if subjects else "",
        date=_date(raw_headers.get("date", [])),
        text=text,
        visible_text=visible_text(text),
        html=_display(html_source, shortened) if html_source is not None else None,
        attachments=attachments,
        headers=headers,
        return_path=_return_path(raw_headers.get("return-path", [])),
        bounce=bounce,
        defects=walk.defects,
        rejected_sender=rejected_sender,
    )


def _display(html: str, shortened: bool) -> str:
    cleaned = sanitize_html(html)
    return f"{cleaned}<p><em>{SHORTENED_NOTE}</em></p>" if shortened else cleaned
