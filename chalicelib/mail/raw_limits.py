"""MailLimits counted in the raw bytes, before the stdlib parses: what it would only find after doing the work."""
from __future__ import annotations

import binascii
import io
import re
from collections.abc import Iterable, Iterator
from typing import IO

from chalicelib.mail.model import MailLimitExceeded, MailLimits

# A boundary parameter, its value quoted or not; `boundary*0=` (RFC 2231 continuations) has no value here.
_BOUNDARY_PARAM = re.compile(rb'boundary(\*[0-9]*\*?)?\s*=\s*(?:"([^"\r\n]*)"|([^\s;"]*))', re.IGNORECASE)
# A line that starts with "--": a separator when the rest is one of the mail's boundaries.
_DASH_LINE = re.compile(rb"[\r\n]--([^\r\n]*)")


# What, at the end of the bytes read so far, may still become (or grow into) a match of each: the scan of a
# file keeps it for the next chunk. Every partial spelling of the fixed text, then what may follow it.
_BOUNDARY_UNFINISHED = re.compile(
    rb'b(?:o(?:u(?:n(?:d(?:a(?:r(?:y(?:\*[0-9]*\*?)?\s*(?:=\s*(?:"[^"\r\n]*|[^\s;"]*))?)?)?)?)?)?)?)?\Z',
    re.IGNORECASE)
_DASH_LINE_UNFINISHED = re.compile(rb"[\r\n](?:-(?:-[^\r\n]*)?)?\Z")

Raw = bytes | IO[bytes]


def _chunks(raw: Raw) -> Iterable[bytes]:
    return (raw,) if isinstance(raw, bytes) else file_chunks(raw)


_BLANK = b" \t\r\n\x0b\x0c="  # whitespace as the patterns' \\s means it, and the "=" between name and value


def _last_lines(buffer: bytes) -> int:
    """Where an unfinished match may start at the latest: on the last line, or on the line before the blank
    lines (a lone "=" counts as blank) that lead up to it. Nothing in either pattern spans a line but their
    whitespace, so the search for one need not read the whole chunk again."""
    last = max(buffer.rfind(b"\n"), buffer.rfind(b"\r")) + 1
    kept = len(buffer[:last].rstrip(_BLANK))
    start = max(buffer.rfind(b"\n", 0, kept), buffer.rfind(b"\r", 0, kept)) + 1
    return max(0, start - 1)  # and the line break before it: where a "--" line's match starts


def _matches(pattern: re.Pattern[bytes], unfinished: re.Pattern[bytes], raw: Raw) -> Iterator[re.Match[bytes]]:
    """pattern.finditer over the mail, holding about a chunk of a file at a time: the same matches, in order.
    From where `unfinished` finds what may still grow into a match, the bytes wait for the next chunk."""
    if isinstance(raw, bytes):
        yield from pattern.finditer(raw)
        return
    buffer = b""
    for chunk in file_chunks(raw):
        buffer = buffer + chunk if buffer else chunk  # one chunk (a mail in memory) is never copied
        tail = unfinished.search(buffer, _last_lines(buffer))
        resume = tail.start() if tail else len(buffer)
        for match in pattern.finditer(buffer):
            if match.start() >= resume:
                break
            yield match
            resume = max(resume, match.end())
        buffer = buffer[resume:]
    yield from pattern.finditer(buffer)


def _boundaries(raw: Raw, limits: MailLimits) -> set[bytes] | None:
    """The boundary values the mail declares; None when one is written as RFC 2231 continuations."""
    found: set[bytes] = set()
    for count, match in enumerate(_matches(_BOUNDARY_PARAM, _BOUNDARY_UNFINISHED, raw), start=1):
        if count > limits.max_parts:
            raise MailLimitExceeded(f"max_parts exceeded (more than {limits.max_parts} multipart boundaries)")
        star, quoted, bare = match.groups()
        if star and star != b"*":
            return None
        value = quoted if quoted is not None else bare or b""
        if star:  # boundary*=charset'language'value
            value = binascii.a2b_qp(value.rpartition(b"'")[2].replace(b"%", b"="))
        found.add(value.rstrip())
    return found


def check_raw(raw: bytes | IO[bytes], limits: MailLimits) -> None:
    """Limits the stdlib would only find after doing the work: each separator line is one part for it to
    build (600,000 parts under one boundary took 99 s), so they are counted in the bytes first. A file is
    read a chunk at a time (twice, three times for mail with many separator lines), never whole."""
    size = len(raw) if isinstance(raw, bytes) else raw.seek(0, io.SEEK_END)
    if size > limits.max_bytes:
        raise MailLimitExceeded(f"max_bytes exceeded ({size} > {limits.max_bytes})")
    lines, dashes, tail = 0, 0, b""
    for chunk in _chunks(raw):
        # What a chunk boundary splits: a "\r" | "\n" pair, a "\n" | "--" line start (tail: the 2 bytes before).
        split_pair = tail.endswith(b"\r") and chunk.startswith(b"\n")
        lines += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n") - int(split_pair)
        spanning = tail + chunk[:2]  # every 3-byte window of it crosses the boundary
        dashes += chunk.count(b"\n--") + chunk.count(b"\r--") + spanning.count(b"\n--") + spanning.count(b"\r--")
        tail = (tail + chunk[-2:])[-2:]
    _check_separators(raw, dashes, limits)
    if lines > limits.max_lines:
        raise MailLimitExceeded(f"max_lines exceeded ({lines} > {limits.max_lines} lines)")


CHUNK_BYTES = 1024 * 1024


def file_chunks(file: IO[bytes]) -> Iterator[bytes]:
    """A file's bytes from its start, CHUNK_BYTES at a time."""
    file.seek(0)
    while chunk := file.read(CHUNK_BYTES):
        yield chunk


def _check_separators(raw: Raw, dashes: int, limits: MailLimits) -> None:
    boundaries = _boundaries(raw, limits)
    if dashes <= limits.max_parts:  # most mail: two memchr passes
        return
    parts = 0
    for match in _matches(_DASH_LINE, _DASH_LINE_UNFINISHED, raw):
        line = match.group(1).rstrip(b" \t")
        # A separator opens a part; "--boundary--" closes the multipart. Without the boundary values
        # (RFC 2231 continuations) every "--" line counts: fewer parts than that never reach here.
        if boundaries is None or line in boundaries:
            parts += 1
            if parts > limits.max_parts:
                raise MailLimitExceeded(
                    f"max_parts exceeded (more than {limits.max_parts} multipart separators)")
