"""Hostile mail, full size: CPU of one ingest, parse + decide (target <= 5 s), and peak RSS (target <= 300 MB).

Each mail is written to a file and handled by a fresh interpreter, so each peak RSS is that mail's alone
(parse_email alone, then ingest_email through FakeShop with an S3 stand-in that keeps nothing); a mail that
runs past TIMEOUT is reported at TIMEOUT (figures, not assertions: the build never fails)."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.big_mail_memory import _PEAK
from benchmarks.report import figure

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300.0
MB = 1024 * 1024
CPU_TARGET = 5.0
RSS_TARGET = 300

_CHILD = _PEAK + r"""
import json, sys, time
from datetime import UTC, datetime
raw = open(sys.argv[1], "rb").read()
from chalicelib.mail.model import MailLimitExceeded
from chalicelib.mail.parse import parse_email
from chalicelib.services.inbound.email_channel import ingest_email
from tests.support import FakeShop, notification

class DiscardingBlobs:
    '''The raw mail read once from "S3"; what is written is counted and dropped, as S3 takes it away.'''
    def __init__(self, raw):
        self.raw = raw
    def read(self, location, max_bytes):
        raw, self.raw = self.raw, None
        return raw
    def download(self, location, max_bytes):
        import io
        return io.BytesIO(self.read(location, max_bytes))
    def put(self, key, data, content_type):
        return "s3://bench/" + key
    def put_file(self, key, file, content_type):
        return "s3://bench/" + key

started = time.process_time()
try:
    parse_email(raw)
    parsed = "parsed"
except MailLimitExceeded as exc:
    parsed = exc.reason
parse_cpu = time.process_time() - started
shop = FakeShop(now=datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
shop.blobs = DiscardingBlobs(raw)
del raw
started = time.process_time()
outcome = ingest_email(json.dumps(notification(ses_id="hostile")), shop.deps)
ingest_cpu = time.process_time() - started
peak = peak_kb()  # this process's own peak (VmHWM): ru_maxrss survives exec and may be the bench runner's
print(json.dumps({"parse_cpu": parse_cpu, "ingest_cpu": ingest_cpu, "peak_kb": peak, "parsed": parsed,
                  "outcome": f"{outcome.status}: {outcome.reason or ''}".rstrip(": "),
                  "acks": len(shop.mail.sent)}))
"""


# Each mail as an expression over tests/fixtures/mail/hostile.py, built by a process of its own: the parent
# must stay small, as Linux hands a process's peak RSS on to the program its child execs.
MAILS: list[tuple[str, str]] = [
    ("150,000 unclosed <div>", "hostile.unclosed_divs(150_000)"),
    ("600,000 parts under one boundary", "hostile.many_parts(600_000)"),
    ("10 parts x 20,000 Content-Type parameters", "hostile.many_parameters(10, 20_000)"),
    ("10 MB HTML", f"hostile.big_html({10 * MB})"),
    ("20 MB HTML", f"hostile.big_html({20 * MB})"),
    ("40 MB HTML", f"hostile.big_html({40 * MB - 4096})"),
    ("40 MB HTML, base64", f"hostile.big_html({29 * MB}, 'base64')"),
    ("40 MB of two-byte lines", f"hostile.HEAD % b'lines' + b'\\r\\n' + b'a\\n' * {20 * MB - 1024}"),
    *((f"poison sender ({name})", f"hostile.poison_sender(hostile.POISON_FROM[{name!r}])")
      for name in ("vertical tab", "form feed", "next line", "line separator", "comma in quotes")),
]
_BUILD = "import sys\nfrom tests.fixtures.mail import hostile\nopen(sys.argv[1], 'wb').write({expression})\n"


def _build(expression: str, path: Path) -> int:
    subprocess.run([sys.executable, "-c", _BUILD.format(expression=expression), str(path)], cwd=ROOT, check=True)
    return path.stat().st_size


def _run(path: Path) -> dict[str, object]:
    try:
        result = subprocess.run([sys.executable, "-c", _CHILD, str(path)], cwd=ROOT, capture_output=True, text=True,
                                timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"parse_cpu": TIMEOUT, "ingest_cpu": TIMEOUT, "peak_kb": 0, "parsed": "timeout",
                "outcome": f"timeout after {TIMEOUT:.0f} s", "acks": 0}
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["?"])[-1]
        return {"parse_cpu": 0.0, "ingest_cpu": 0.0, "peak_kb": 0, "parsed": "crashed", "outcome": f"crashed: {tail}",
                "acks": 0}
    figures: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    worst_cpu = worst_rss = 0.0
    with tempfile.TemporaryDirectory() as folder:
        for n, (name, expression) in enumerate(MAILS):
            path = Path(folder) / f"{n}.eml"
            size = _build(expression, path)
            run = _run(path)
            path.unlink()
            cpu = float(run["ingest_cpu"])  # type: ignore[arg-type]  # parse + decide
            rss = int(run["peak_kb"]) / 1024  # type: ignore[call-overload]
            worst_cpu, worst_rss = max(worst_cpu, cpu), max(worst_rss, rss)
            figure(f"{name}: ingest CPU", cpu, "s", target=CPU_TARGET,
                   note=f"({size / MB:.1f} MB; parse {float(run['parse_cpu']):.2f} s: {run['parsed']}; "  # type: ignore[arg-type]
                        f"ingest {run['outcome']}, {run['acks']} ack)")
            figure(f"{name}: peak RSS", rss, "MB", target=RSS_TARGET, digits=0)
    figure("max CPU of one ingest (parse + decide)", worst_cpu, "s", target=CPU_TARGET)
    figure("max peak RSS", worst_rss, "MB", target=RSS_TARGET, digits=0)
