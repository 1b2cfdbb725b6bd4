"""Peak memory (RSS) of one process ingesting a 30 MB mail with attachments (target < 300 MB)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks.report import figure

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import os, resource, sys
from datetime import UTC, datetime
from tests.support import FakeShop, build_mail

class DiscardingBlobs:
    '''Counts what would go to S3 and keeps none of it, as the real adapter streams it away.'''
    def __init__(self, raw):
        self.raw, self.stored = raw, 0
    def read(self, location, max_bytes):
        raw, self.raw = self.raw, None
        return raw
    def put(self, key, data, content_type):
        self.stored += len(data)
        return "s3://bench/" + key

chunk = os.urandom(7 * 1024 * 1024)
raw, _ = build_mail(attachments=[(f"photo-{n}.jpg", "image/jpeg", chunk) for n in range(3)])
del chunk
size = len(raw)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
shop = FakeShop(now=datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
shop.blobs = DiscardingBlobs(raw)
del raw
from chalicelib.services.inbound.email_channel import ingest_email
from tests.support import notification
import json
outcome = ingest_email(json.dumps(notification(ses_id="big")), shop.deps)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"{size} {before} {peak} {shop.blobs.stored} {outcome.status}")
"""


def main() -> None:
    result = subprocess.run([sys.executable, "-c", _CHILD], cwd=ROOT, capture_output=True, text=True, check=True)
    size, before, peak, stored, status = result.stdout.split()
    figure("mail size", int(size) / 1e6, "MB", digits=1,
           note=f"({status}, {int(stored) / 1e6:.1f} MB of attachments stored)")
    figure("RSS before", int(before) / 1024, "MB", digits=0, note="(interpreter, libraries, the mail itself)")
    figure("peak RSS", int(peak) / 1024, "MB", target=300, inclusive=False, digits=0)
