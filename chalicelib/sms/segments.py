"""SMS segment counting: GSM-7 (160 characters, 153 per part) or UCS-2 (70, 67 per part), as carriers bill it."""
from __future__ import annotations

from dataclasses import dataclass

# GSM 03.38 default alphabet and its extension table (an extension character costs an escape + itself).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
SINGLE = {"GSM-7": 160, "UCS-2": 70}
# A concatenated message spends part of each segment on its user data header.
PER_PART = {"GSM-7": 153, "UCS-2": 67}


@dataclass(frozen=True)
class SegmentCount:
    encoding: str  # "GSM-7" | "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int

    def describe(self) -> str:
        return (f"{self.segments} segment{'s' if self.segments != 1 else ''} of {self.encoding} "
                f"({SINGLE[self.encoding]} per single SMS, {PER_PART[self.encoding]} per part)")


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text)


def _costs(text: str, encoding: str) -> list[int]:
    if encoding == "GSM-7":
        return [2 if c in GSM7_EXTENDED else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]  # a surrogate pair is two UCS-2 units


def count_segments(text: str) -> SegmentCount:
    encoding = "GSM-7" if is_gsm7(text) else "UCS-2"
    costs = _costs(text, encoding)
    units = sum(costs)
    if units == 0:
        return SegmentCount(encoding, 0, 0)
    if units <= SINGLE[encoding]:
        return SegmentCount(encoding, units, 1)
    # Parts are filled greedily; an escape sequence or a surrogate pair never splits across two parts.
    capacity, segments, used = PER_PART[encoding], 1, 0
    for cost in costs:
        if used + cost > capacity:
            segments, used = segments + 1, 0
        used += cost
    return SegmentCount(encoding, units, segments)


def fits(text: str, max_segments: int) -> bool:
    return count_segments(text).segments <= max_segments
