"""Segments as carriers count them: GSM-7 160/153, UCS-2 70/67; escapes and surrogate pairs never split."""
from __future__ import annotations

import pytest

from chalicelib.sms.segments import count_segments, fits


@pytest.mark.parametrize(("text", "encoding", "units", "segments"), [
    ("", "GSM-7", 0, 0),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),
    ("a" * 307, "GSM-7", 307, 3),
    ("€" * 80, "GSM-7", 160, 1),  # the euro sign is an extension character: two septets
    ("€" * 81, "GSM-7", 162, 2),
    ("Grüße, Ñandù! @£$¥ èé", "GSM-7", 21, 1),
    ("Grüße, Ñandú!", "UCS-2", 13, 1),  # ú is not in GSM-7 (ù is)
    ("ü" * 70 + "ç", "UCS-2", 71, 2),  # ç is not in GSM-7 (only Ç is): the whole text becomes UCS-2
    ("ж" * 70, "UCS-2", 70, 1),
    ("ж" * 71, "UCS-2", 71, 2),
    ("ж" * 134, "UCS-2", 134, 2),
    ("ж" * 135, "UCS-2", 135, 3),
    ("🙂" * 35, "UCS-2", 70, 1),  # outside the BMP: a surrogate pair is two units
])
def test_counts(text: str, encoding: str, units: int, segments: int) -> None:
    count = count_segments(text)
    assert (count.encoding, count.units, count.segments) == (encoding, units, segments)


def test_an_escape_sequence_does_not_split_across_parts() -> None:
    # 152 septets, then a two-septet euro: it would straddle the 153 boundary, so it opens part two.
    text = "a" * 152 + "€" + "a" * 152
    assert count_segments(text).segments == 3
    assert count_segments("a" * 151 + "€" + "a" * 153).segments == 2


def test_a_surrogate_pair_does_not_split_across_parts() -> None:
    assert count_segments("ж" * 66 + "🙂" + "ж" * 66).segments == 3
    assert count_segments("ж" * 65 + "🙂" + "ж" * 67).segments == 2


def test_fits_and_describe() -> None:
    assert fits("a" * 306, 2) and not fits("a" * 307, 2)
    assert count_segments("a" * 307).describe() == "3 segments of GSM-7 (160 per single SMS, 153 per part)"
