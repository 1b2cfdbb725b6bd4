"""MailLimits counted in the raw bytes, before the stdlib parses: what it would only find after doing the work."""
from __future__ import annotations

import binascii
import re

from chalicelib.mail.model import MailLimitExceeded, MailLimits

# A boundary parameter, its value quoted or not; `boundary*0=` (RFC 2231 continuations) has no value here.
_BOUNDARY_PARAM = re.compile(rb'boundary(\*[0-9]*\*?)?\s*=\s*(?:"([^"\r\n]*)"|([^\s;"]*))', re.IGNORECASE)
# A line that starts with "--": a separator when the rest is one of the mail's boundaries.
_DASH_LINE = re.compile(rb"[\r\n]--([^\r\n]*)")


def _boundaries(raw: bytes, limits: MailLimits) -> set[bytes] | None:
    """The boundary values the mail declares; None when one is written as RFC 2231 continuations."""
    found: set[bytes] = set()
    for count, match in enumerate(_BOUNDARY_PARAM.finditer(raw), start=1):
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


def check_raw(raw: bytes, limits: MailLimits) -> None:
    """Limits the stdlib would only find after doing the work: each separator line is one part for it to
    build (600,000 parts under one boundary took 99 s), so they are counted in the bytes first."""
    if len(raw) > limits.max_bytes:
        raise MailLimitExceeded(f"max_bytes exceeded ({len(raw)} > {limits.max_bytes})")
    _check_separators(raw, limits)
    lines = raw.count(b"\n") + raw.count(b"\r") - raw.count(b"\r\n")
    if lines > limits.max_lines:
        raise MailLimitExceeded(f"max_lines exceeded ({lines} > {limits.max_lines} lines)")


def _check_separators(raw: bytes, limits: MailLimits) -> None:
    boundaries = _boundaries(raw, limits)
    if raw.count(b"\n--") + raw.count(b"\r--") <= limits.max_parts:  # most mail: two memchr passes
        return
    parts = 0
    for match in _DASH_LINE.finditer(raw):
        line = match.group(1).rstrip(b" \t")
        # A separator opens a part; "--boundary--" closes the multipart. Without the boundary values
        # (RFC 2231 continuations) every "--" line counts: fewer parts than that never reach here.
        if boundaries is None or line in boundaries:
            parts += 1
            if parts > limits.max_parts:
                raise MailLimitExceeded(
                    f"max_parts exceeded (more than {limits.max_parts} multipart separators)")
