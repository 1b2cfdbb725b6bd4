"""Peak memory (RSS) of one process ingesting a 30 MB and a 40 MB mail through the real handler and adapters
(boto3 S3 and DynamoDB against moto in another process; target <= 300 MB), and the in-memory figure beside it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.report import figure

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB = 300
SIZES_MB = (30, 40)  # SES accepts up to 40 MB, headers included

# The child is the function: a fresh interpreter that imports the app, takes one SNS event and reports its
# own peak RSS. Nothing else runs in it (the mail was built and uploaded by the parent, moto is a third process).

# Linux's ru_maxrss survives exec: a child forked from a parent holding a 40 MB mail would report the parent's
# peak. VmHWM belongs to the address space exec created, so it is the child's own.
_PEAK = r"""
def peak_kb():
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""

_REAL_CHILD = _PEAK + r"""
import json, sys
notification = open(sys.argv[1]).read()
import app
handler = app.app.handler_map["ingest_email"]
class Context:
    aws_request_id = "bench"
    def get_remaining_time_in_millis(self):
        return 60_000
event = {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn:bench",
                      "Sns": {"Type": "Notification", "MessageId": "bench", "TopicArn": "arn:bench", "Subject": None,
                              "Message": notification, "Timestamp": "2026-11-24T09:00:00.000Z",
                              "MessageAttributes": {}}}]}
before = peak_kb()
del notification
outcome = handler(event, Context())
peak = peak_kb()
print(json.dumps({"before": before, "peak": peak, "status": outcome.get("status")}))
"""

_MEMORY_CHILD = _PEAK + r"""
import os, sys
from datetime import UTC, datetime
from tests.support import FakeShop, build_mail

class DiscardingBlobs:
    '''Counts what would go to S3 and keeps none of it, as the real adapter streams it away.'''
    def __init__(self, raw):
        self.raw, self.stored = raw, 0
    def read(self, location, max_bytes):
        raw, self.raw = self.raw, None
        return raw
    def download(self, location, max_bytes):
        import io
        return io.BytesIO(self.read(location, max_bytes))
    def put(self, key, data, content_type):
        self.stored += len(data)
        return "s3://bench/" + key
    def put_file(self, key, file, content_type):
        while chunk := file.read(1 << 20):
            self.stored += len(chunk)
        return "s3://bench/" + key

chunk = os.urandom(7 * 1024 * 1024)
raw, _ = build_mail(attachments=[(f"photo-{n}.jpg", "image/jpeg", chunk) for n in range(3)])
del chunk
size = len(raw)
before = peak_kb()
shop = FakeShop(now=datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
shop.blobs = DiscardingBlobs(raw)
del raw
from chalicelib.services.inbound.email_channel import ingest_email
from tests.support import notification
import json
outcome = ingest_email(json.dumps(notification(ses_id="big")), shop.deps)
peak = peak_kb()
print(f"{size} {before} {peak} {shop.blobs.stored} {outcome.status}")
"""


def big_mail(size_mb: int) -> bytes:
    """A customer's mail of about `size_mb` MB (10^6 bytes) as a phone sends it: a short text and three photos,
    base64 in lines of 76 characters (more lines, more parser work, than tests.support's 998)."""
    from email.message import EmailMessage
    from email.policy import SMTP

    message = EmailMessage(policy=SMTP)
    message["From"] = "Anna Schmidt <anna@customer.example>"
    message["To"] = "support@shop.example"
    message["Subject"] = "Damaged parcel"
    message["Date"] = "Tue, 24 Nov 2026 09:59:58 +0100"
    message["Message-ID"] = f"<big-{size_mb}@customer.example>"
    message.set_content("Hello, the parcel arrived damaged, photos attached.\n\nAnna")
    # base64: 4 characters per 3 bytes, and a line break per 76 characters.
    photo = int((size_mb * 1_000_000 - 2_000) / (4 / 3 * 78 / 76) / 3)
    for n in range(3):
        message.add_attachment(os.urandom(photo), maintype="image", subtype="jpeg", filename=f"photo-{n}.jpg")
    return message.as_bytes()


# The customer's side: provisions moto, builds each mail and stores it where SES would, then exits. In a
# process of its own, so this one (the bench runner, parent of the next benchmarks too) never holds a mail.
_SENDER = r"""
import json, sys
from benchmarks.big_mail_memory import big_mail
from chalicelib.local.aws import client
from chalicelib.local.env import REGION
from chalicelib.local.provision import provision
from chalicelib.resources import ResourceNames
from tests.support import notification
endpoint, stage, folder, *sizes = sys.argv[1:]
names = ResourceNames(stage)
provision(lambda service: client(service, endpoint), names, REGION,
          ["support@shop.example", "shipping@shop.example", "products@shop.example"])
s3 = client("s3", endpoint)
for size_mb in map(int, sizes):
    raw = big_mail(size_mb)
    document = notification(ses_id=f"big-{size_mb}", bucket=names.raw_mail_bucket)
    action = document["receipt"]["action"]
    s3.put_object(Bucket=action["bucketName"], Key=action["objectKey"], Body=raw)
    with open(f"{folder}/{size_mb}.json", "w") as out:
        json.dump({"size": len(raw), "notification": json.dumps(document)}, out)
"""


def _real_adapters() -> list[dict[str, Any]]:
    from benchmarks.moto_process import moto_process
    from chalicelib.local.env import LocalConfig, stage_environment

    results = []
    with moto_process() as endpoint, tempfile.TemporaryDirectory() as folder:
        port = int(endpoint.rsplit(":", 1)[1])
        env = {**os.environ, **stage_environment(LocalConfig(aws_port=port)),
               "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
        env.pop("SHOPDESK_JWT_PUBLIC_KEY_FILE")  # the API's key; ingesting mail needs none
        subprocess.run([sys.executable, "-c", _SENDER, endpoint, env["SHOPDESK_STAGE"], folder,
                        *map(str, SIZES_MB)], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        for size_mb in SIZES_MB:
            sent = json.loads((Path(folder) / f"{size_mb}.json").read_text())
            notification = Path(folder) / f"{size_mb}.notification.json"
            notification.write_text(sent["notification"])
            run = subprocess.run([sys.executable, "-c", _REAL_CHILD, str(notification)], cwd=ROOT, env=env,
                                 capture_output=True, text=True, check=True)
            results.append({"size": sent["size"], **json.loads(run.stdout.strip().splitlines()[-1])})
    return results


def main() -> None:
    for result in _real_adapters():
        size_mb, peak_mb = result["size"] / 1e6, result["peak"] / 1024
        label = f"{size_mb:.0f} MB mail"
        figure(f"{label}: RSS before the event, real adapters", result["before"] / 1024, "MB", digits=0,
               note="(interpreter, app, the notification)")
        figure(f"{label}: peak RSS, real adapters", peak_mb, "MB", target=TARGET_MB, digits=0,
               note=f"({result['status']}, {peak_mb / size_mb:.1f}x the mail)")
    run = subprocess.run([sys.executable, "-c", _MEMORY_CHILD], cwd=ROOT, capture_output=True, text=True, check=True)
    size, before, peak, stored, status = run.stdout.split()
    figure("in-memory adapters: mail size", int(size) / 1e6, "MB", digits=1,
           note=f"({status}, {int(stored) / 1e6:.1f} MB of attachments stored)")
    figure("in-memory adapters: RSS before", int(before) / 1024, "MB", digits=0,
           note="(interpreter, libraries, the mail built in this process; no boto3)")
    figure("in-memory adapters: peak RSS", int(peak) / 1024, "MB", target=TARGET_MB, inclusive=False, digits=0)
