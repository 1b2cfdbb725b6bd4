"""The real email path for benchmarks: moto in a process of its own, ShopDesk's resources provisioned in it,
mails put where SES's S3 action puts them, and a child process that imports `app` and calls its
`ingest_email` handler with SNS events, as Lambda would. The child counts only its own CPU (moto's work
happens in another process), with real boto3 clients, real HTTP and real DynamoDB serialization."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.moto_process import moto_process

ROOT = Path(__file__).resolve().parents[1]
STAGE = "bench"
REGION = "eu-central-1"
_EVENT = ROOT / "tests" / "events" / "ses_s3_action_notification.json"

# Run in a fresh interpreter: CPU from the first line of the script (interpreter start-up excluded, the
# same for every Python program) to the end of each invocation. `import app` and the first email are what
# a cold Lambda container spends before it answers; the rest are warm invocations of the same container.
_CHILD = r"""
import json, sys, time
t_start = time.process_time()
import app
t_imported = time.process_time()

class Context:
    def __init__(self, n):
        self.aws_request_id = f"bench-{n}"
    def get_remaining_time_in_millis(self):
        return 60_000

with open(sys.argv[1], encoding="utf-8") as handle:
    messages = handle.read().split("\n")
stdlib_cpu = None
if len(sys.argv) > 3:  # the same mails parsed by the stdlib alone, in this process, before they are handled
    import email
    from email.policy import default
    with open(sys.argv[3], "rb") as handle:
        raws = handle.read().split(b"\n\x00SPLIT\x00\n")
    t0 = time.process_time()
    for raw in raws:
        message = email.message_from_bytes(raw, policy=default)
        body = message.get_body(preferencelist=("plain", "html"))
        if body is not None:
            try:
                body.get_content()
            except (LookupError, ValueError, AssertionError):
                pass
    stdlib_cpu = time.process_time() - t0
offset = t_imported - t_start
cpu, statuses = [], []
for n, message in enumerate(messages):
    event = {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": message, "Subject": None,
                                                            "MessageAttributes": {}}}]}
    t0 = time.process_time()
    result = app.ingest_email(event, Context(n))
    cpu.append(time.process_time() - t0)
    statuses.append(result.get("status"))
with open(sys.argv[2], "w", encoding="utf-8") as handle:
    json.dump({"import": offset, "cpu": cpu, "statuses": statuses, "stdlib": stdlib_cpu,
               "modules": sorted({name.split(".")[0] for name in sys.modules})}, handle)
"""


@dataclass(frozen=True)
class RealRun:
    """CPU seconds of one child process: `import app`, then each handled email in order."""

    import_cpu: float
    email_cpu: list[float]
    statuses: list[str]
    stdlib_cpu: float | None  # bare stdlib parsing of the same mails in the same process, when asked for
    modules: frozenset[str]  # top-level packages loaded by the end

    @property
    def first_email(self) -> float:
        """Import plus the first email: what a fresh container spends before its first answer."""
        return self.import_cpu + self.email_cpu[0]


@dataclass(frozen=True)
class RealStack:
    """moto's endpoint with ShopDesk's resources, and the environment a handler process needs to reach it."""

    endpoint: str
    environment: dict[str, str]
    bucket: str
    bytecode_cache: str

    def reset(self) -> None:
        """Empties moto (every table, bucket, sent mail) and provisions again: the next run starts as the
        first mail of a new store (no duplicates of an earlier run's Message-IDs)."""
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"),
                               timeout=30).close()
        _provision(self.endpoint)

    def put_mails(self, raws: Sequence[bytes]) -> list[str]:
        """Stores each mail as SES's S3 action would; returns one SES notification per mail."""
        from chalicelib.local.aws import client

        s3 = client("s3", self.endpoint, REGION)
        template = json.loads(_EVENT.read_text(encoding="utf-8"))
        notifications = []
        for raw in raws:
            ses_id = uuid.uuid4().hex
            s3.put_object(Bucket=self.bucket, Key=f"inbound/{ses_id}", Body=raw)
            document = json.loads(json.dumps(template))
            document["mail"].update(messageId=ses_id)
            document["receipt"]["action"].update(bucketName=self.bucket, objectKey=f"inbound/{ses_id}")
            notifications.append(json.dumps(document))
        return notifications

    def run(self, notifications: Sequence[str], *, stdlib_raws: Sequence[bytes] | None = None,
            lambda_like: bool = True, bytecode: bool = True, extra_env: dict[str, str] | None = None) -> RealRun:
        """Handles the notifications in order in one fresh process; `lambda_like` gives it the variables
        Lambda sets (so production's settings apply: parameter validation off). With `bytecode`, every
        module loads from compiled bytecode (kept in a cache of this stack's, warmed by its first run), as
        from a package built with compileall; without it, ShopDesk's own modules are compiled from source
        on import, as from a package of sources on Lambda's read-only file system."""
        with tempfile.TemporaryDirectory(prefix="shopdesk-bench-") as folder:
            events, result = Path(folder) / "events.txt", Path(folder) / "result.json"
            events.write_text("\n".join(notifications), encoding="utf-8")
            argv = [sys.executable, "-c", _CHILD, str(events), str(result)]
            if stdlib_raws is not None:
                raws = Path(folder) / "raws.bin"
                raws.write_bytes(b"\n\x00SPLIT\x00\n".join(stdlib_raws))
                argv.append(str(raws))
            env = dict(self.environment)
            if bytecode:
                env.update(PYTHONPYCACHEPREFIX=self.bytecode_cache)
                env.pop("PYTHONDONTWRITEBYTECODE", None)
            else:
                env.update(PYTHONDONTWRITEBYTECODE="1")
                env.pop("PYTHONPYCACHEPREFIX", None)
            if lambda_like:
                env.update(AWS_LAMBDA_FUNCTION_NAME=f"shopdesk-{STAGE}-ingest_email",
                           AWS_EXECUTION_ENV="AWS_Lambda_python3.11", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024")
            env.update(extra_env or {})
            # Logs and EMF lines go to stdout as in Lambda (and cost what they cost there); nobody reads them.
            subprocess.run(argv, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
            data: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
        return RealRun(import_cpu=data["import"], email_cpu=list(data["cpu"]), statuses=list(data["statuses"]),
                       stdlib_cpu=data["stdlib"], modules=frozenset(data["modules"]))


def _environment(endpoint: str) -> dict[str, str]:
    from chalicelib.local.env import ENDPOINT_SERVICES, UNSET

    env = {k: v for k, v in os.environ.items() if k not in UNSET and not k.startswith("AWS_ENDPOINT_URL")}
    env.update(
        SHOPDESK_STAGE=STAGE, AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION, AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true", AWS_ENDPOINT_URL=endpoint,
        # As deployed: INFO logs and EMF metrics on stdout.
        POWERTOOLS_LOG_LEVEL="INFO", POWERTOOLS_METRICS_DISABLED="false",
        POWERTOOLS_SERVICE_NAME="shopdesk", POWERTOOLS_METRICS_NAMESPACE="ShopDesk",
        # Every sender of the corpus may be acknowledged: the figures include building and sending acks.
        SHOPDESK_ACKS_PER_SENDER_PER_HOUR="1000", SHOPDESK_ACKS_PER_DOMAIN_PER_HOUR="1000",
        SHOPDESK_ACKS_PER_HOUR="100000",
        NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
    )
    env.update({f"AWS_ENDPOINT_URL_{service}": endpoint for service in ENDPOINT_SERVICES})
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(name, None)
    return env


def _provision(endpoint: str) -> None:
    from chalicelib.config import load_settings
    from chalicelib.local.aws import client
    from chalicelib.local.provision import provision

    settings = load_settings({"SHOPDESK_STAGE": STAGE, "AWS_REGION": REGION})
    provision(lambda service: client(service, endpoint, REGION), settings.names, REGION, settings.support_addresses)


@contextlib.contextmanager
def real_stack(*, warm: bool = True) -> Iterator[RealStack]:
    """moto in its own process, provisioned as the local stack provisions it; `warm` handles two mails
    first, untimed, so the bytecode cache holds every module the email path imports."""
    from chalicelib.config import load_settings

    settings = load_settings({"SHOPDESK_STAGE": STAGE, "AWS_REGION": REGION})
    with moto_process() as endpoint, tempfile.TemporaryDirectory(prefix="shopdesk-pycache-") as cache:
        _provision(endpoint)
        stack = RealStack(endpoint=endpoint, environment=_environment(endpoint), bucket=settings.raw_mail_bucket,
                          bytecode_cache=cache)
        if warm:
            stack.run(stack.put_mails(customer_mails(2)))
        yield stack


def customer_mails(count: int) -> list[bytes]:
    """`count` new-ticket mails from different customers (each one is acknowledged)."""
    from tests.support import build_mail

    return [build_mail(sender=f"Customer {n} <customer{n}@shopper{n % 7}.example>",
                       subject=f"Order {5500 + n} has not arrived")[0] for n in range(count)]
