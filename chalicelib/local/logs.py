"""Where the local stack's logs go: one short line per event on the console a person reads (from the
handlers' structured outcome; never an address, a number or a text), and everything in full (Powertools
JSON, EMF metrics, library messages) in `.local/logs/shopdesk.jsonl`, one JSON document a line."""
from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

LOG_FILE_NAME = "shopdesk.jsonl"
METRICS_LOGGER = "shopdesk_local.metrics"
# Libraries whose INFO lines (botocore's "Found credentials in environment variables.") are not events.
QUIET_LIBRARIES = ("botocore", "boto3", "urllib3", "s3transfer", "werkzeug", "mail.log", "chalice")
_EMAIL = re.compile(r"[\w.+=-]+@[\w-]+(?:\.[\w-]+)+")
# Seven or more digits, maybe spaced or dashed, standing alone (not inside an id such as a UUID).
_PHONE = re.compile(r"(?<![\w-])\+?\d[\d ()./-]{5,}\d(?![\w-])")


def log_path(state_dir: Path) -> Path:
    return state_dir / "logs" / LOG_FILE_NAME


def redact(text: str) -> str:
    """The console's last line of defence: anything shaped like an address or a phone number goes."""
    return _PHONE.sub("<number>", _EMAIL.sub("<address>", text))


def _ticket(outcome: Mapping[str, Any]) -> str:
    number = outcome.get("ticket_number")
    return f"ticket #{number}" if number else "a ticket"


def _ingest_line(channel: str, outcome: Mapping[str, Any]) -> str:
    status = str(outcome.get("status", "?"))
    reason = f" ({outcome['reason']})" if outcome.get("reason") else ""
    if status == "created":
        line = f"{channel} in: {_ticket(outcome)} created"
    elif status == "appended":
        threaded = f" (by {outcome['threaded_by']})" if outcome.get("threaded_by") else ""
        line = f"{channel} in: appended to {_ticket(outcome)}{threaded}"
    elif status == "keyword":
        answered = ", answered" if outcome.get("replied") else ""
        line = f"{channel} in: keyword {str(outcome.get('keyword') or '?').upper()}{answered}"
    elif status == "resumed":
        line = f"{channel} in: {_ticket(outcome)} finished (a redelivery resumed it)"
    elif status == "duplicate":
        line = f"{channel} in: duplicate delivery ignored"
    else:  # dropped | quarantined
        line = f"{channel} in: {status}{reason}"
    if outcome.get("acknowledged"):
        line += ", acknowledgement sent"
    return line


def _sweep_line(outcome: Mapping[str, Any]) -> str:
    parts = [f"{outcome[key]} {label}" for key, label in (
        ("warnings", "warned"), ("breaches", "breached"), ("escalations", "escalated"),
        ("auto_closed", "auto-closed"), ("notices_sent", "notices sent"), ("notices_failed", "notices failed"),
        ("conflicts", "conflicts"),
    ) if outcome.get(key)]
    failed = outcome.get("failed") or []
    if failed:
        parts.append(f"{len(failed)} failed (they stay due)")
    line = f"SLA sweep: {outcome.get('examined', 0)} tickets due" + (": " + ", ".join(parts) if parts else "")
    return line + ("; a backlog continues on the next run" if outcome.get("backlog") else "")


def event_line(message: str, outcome: Mapping[str, Any]) -> str | None:
    """The console's line for a handler's structured outcome, or None when the message is not one we know."""
    if message == "email ingested":
        return _ingest_line("email", outcome)
    if message in ("sms ingested", "sms quarantined"):
        return _ingest_line("SMS", outcome)
    if message.startswith("sla sweep"):
        return _sweep_line(outcome)
    return None


def _idle_sweep(record: logging.LogRecord) -> bool:
    outcome = getattr(record, "outcome", None)
    return (record.getMessage() == "sla sweep done" and isinstance(outcome, Mapping)
            and not outcome.get("examined") and not outcome.get("failed"))


class ConsoleFilter(logging.Filter):
    """Drops what is not an event for a person: library chatter below WARNING, sweeps that found nothing due."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING and record.name.split(".")[0] in QUIET_LIBRARIES:
            return False
        return not _idle_sweep(record)


class ConsoleFormatter(logging.Formatter):
    """`HH:MM:SS <what happened>`: one line, no JSON, redacted."""

    def __init__(self, log_file: Path) -> None:
        super().__init__()
        self.log_file = log_file

    def format(self, record: logging.LogRecord) -> str:
        outcome = getattr(record, "outcome", None)
        text = event_line(record.getMessage(), outcome) if isinstance(outcome, Mapping) else None
        if text is None:
            text = record.getMessage()
            if record.levelno >= logging.WARNING:
                text = f"{record.levelname.lower()}: {text}"
            if record.exc_info and record.exc_info[0] is not None:
                text += f" ({record.exc_info[0].__name__}; the traceback is in {self.log_file})"
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        return f"{stamp} {redact(' '.join(text.split()))}"


class FileFormatter(logging.Formatter):
    """Every record as one JSON line: the service's through Powertools' own formatter (correlation ids,
    appended keys), EMF records as they are, everything else as a small JSON document."""

    def __init__(self, service: str, powertools: logging.Formatter | None) -> None:
        super().__init__()
        self.service = service
        self.powertools = powertools

    def format(self, record: logging.LogRecord) -> str:
        if record.name == METRICS_LOGGER:
            return record.getMessage()
        if record.name == self.service and self.powertools is not None:
            return self.powertools.format(record)
        document: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


def _replace_handlers(log: logging.Logger, *handlers: logging.Handler) -> None:
    for handler in list(log.handlers):
        log.removeHandler(handler)
    for handler in handlers:
        log.addHandler(handler)


def install(state_dir: Path, console: TextIO | None = None) -> Path:
    """Routes this process's logging and EMF metrics as described above; returns the log file.

    Call it before the app is imported: Chalice then finds a stdout handler on its (and our service's)
    logger and adds none of its own, and the Powertools Logger is built here, once, so its JSON formatter
    can be reused for the file.
    """
    from chalicelib import observability

    path = log_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    powertools = observability.logger()
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(FileFormatter(observability.SERVICE, powertools.registered_formatter))
    console_handler = logging.StreamHandler(console if console is not None else sys.stdout)
    console_handler.setFormatter(ConsoleFormatter(path))
    console_handler.addFilter(ConsoleFilter())

    root = logging.getLogger()
    _replace_handlers(root, file_handler, console_handler)
    root.setLevel(logging.INFO)
    service = logging.getLogger(observability.SERVICE)
    _replace_handlers(service, file_handler, console_handler)
    service.propagate = False
    metrics = logging.getLogger(METRICS_LOGGER)
    _replace_handlers(metrics, file_handler)
    metrics.setLevel(logging.INFO)
    metrics.propagate = False
    observability.send_metrics_to(metrics.info)
    return path
