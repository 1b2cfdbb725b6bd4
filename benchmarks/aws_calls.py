"""AWS API calls per email: new ticket, reply, SNS action, attachments, redelivered duplicate (botocore hooks, moto)."""
from __future__ import annotations

import json
from collections import Counter
from typing import Any

from benchmarks.report import figure

REGION = "eu-central-1"
ATTACHMENTS = 3  # one PutObject each


def _count(run: Any) -> Counter[str]:
    from benchmarks.offline import count_calls

    return count_calls(run, ("dynamodb", "s3", "ses"))


def main() -> None:
    import boto3

    from benchmarks.offline import offline_aws
    from chalicelib.handlers import handle_inbound_email
    from tests.support import build_mail, notification

    with offline_aws() as config:
        s3 = boto3.client("s3", region_name=REGION)

        def deliver(raw: bytes, **options: Any) -> dict[str, Any]:
            document = notification(bucket=config.raw_mail_bucket, **options)
            action = document["receipt"]["action"]
            if action["type"] == "S3":
                s3.put_object(Bucket=action["bucketName"], Key=action["objectKey"], Body=raw)
            return handle_inbound_email(json.dumps(document))

        first, first_id = build_mail()
        created = _count(lambda: deliver(first))
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        ses_id = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages[-1].id
        rewritten = f"<{ses_id}@{REGION}.amazonses.com>"
        reply, _ = build_mail(subject="Re: [#1001] Where is my order?", in_reply_to=rewritten,
                              references=f"<{first_id}> {rewritten}", body="Any news?")
        replied = _count(lambda: deliver(reply))
        reply_to = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages[-1].raw_data
        address = next(line.split(":", 1)[1].strip() for line in str(reply_to).splitlines()
                       if line.lower().startswith("reply-to:"))
        via_address = _count(lambda: deliver(build_mail(to=address, body="via reply address")[0],
                                             destination=[address]))
        other, _ = build_mail(sender="Ben <ben@customer.example>", subject="Exchange a jacket")
        warm = _count(lambda: deliver(other, source="ben@customer.example"))
        inline, _ = build_mail(sender="Cleo <cleo@customer.example>", subject="Gift wrapping")
        sns_action = _count(lambda: deliver(inline, source="cleo@customer.example", inline=inline))
        photos = [(f"photo-{n}.jpg", "image/jpeg", bytes([n]) * 50_000) for n in range(ATTACHMENTS)]
        attached, _ = build_mail(sender="Dana <dana@customer.example>", subject="Broken lamp", attachments=photos)
        with_attachments = _count(lambda: deliver(attached, source="dana@customer.example", ses_id="attached"))
        again, _ = build_mail(sender="Eve <eve@customer.example>", subject="Size chart")
        deliver(again, source="eve@customer.example", ses_id="again")
        redelivered = _count(lambda: deliver(again, source="eve@customer.example", ses_id="again"))
    # A new ticket: the delivery pre-check (one BatchGetItem before the download: a redelivered duplicate is
    # one call, no download, no parse), GetObject, the batch read, the number's atomic increment, the create
    # transaction, the send, its record, and the sender domain's and the shop's acknowledgement counters,
    # which every new ticket touches and so are counted outside its transaction (#12: no conflicts).
    for label, calls, target in (("new-ticket email, cold process", created, 9),
                                 ("new-ticket email, warm process", warm, 9),
                                 ("reply by In-Reply-To", replied, 5),
                                 ("reply to the signed address", via_address, 5),
                                 ("new-ticket email, SNS action (mail inline)", sns_action, 8),
                                 (f"new-ticket email with {ATTACHMENTS} attachments", with_attachments,
                                  9 + ATTACHMENTS),
                                 ("redelivered duplicate (delivery done)", redelivered, 1)):
        detail = ", ".join(f"{name} {n}" for name, n in sorted(calls.items()))
        figure(label, sum(calls.values()), "calls", target=target, note=detail)
