"""The developer console: the outbox (JSON and a page), inbound SMS, schedule runs and local tokens."""
from __future__ import annotations

import html
import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chalicelib.local.delivery import Scheduler
from chalicelib.local.httpd import BackgroundHTTPServer, QuietHandler
from chalicelib.local.keys import ROLES, TOKEN_LIFETIME_SECONDS, LocalKey, TokenRequestError, sign_token
from chalicelib.local.outbox import Outbox

log = logging.getLogger("shopdesk_local")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_SMS_CHARS = 1600
SCHEDULE_WAIT_SECONDS = 60.0
MAX_WAIT_SECONDS = 30.0  # GET /outbox?since=N&wait=S holds the request until something new was sent
# Keywords End User Messaging recognises itself; any other message carries the account's default keyword.
SMS_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "ARRET",
                          "HELP", "INFO", "START", "UNSTOP", "YES"})
DEFAULT_SMS_KEYWORD = "KEYWORD_123456789012"


def two_way_sms(origination: str, destination: str, body: str, inbound_id: str | None = None,
                previous_id: str | None = None) -> dict[str, Any]:
    """The JSON End User Messaging publishes to a number's two-way SMS topic."""
    first = body.strip().split(maxsplit=1)[0].upper() if body.strip() else ""
    document: dict[str, Any] = {
        "originationNumber": origination, "destinationNumber": destination,
        "messageKeyword": first if first in SMS_KEYWORDS else DEFAULT_SMS_KEYWORD,
        "messageBody": body, "inboundMessageId": inbound_id or str(uuid.uuid4()),
    }
    if previous_id:
        document["previousPublishedMessageId"] = previous_id
    return document


@dataclass
class ConsoleDeps:
    outbox: Outbox
    key: LocalKey
    publish_sms: Callable[[dict[str, Any]], None]
    sms_functions: list[str]
    scheduler: Scheduler
    links: Mapping[str, str]


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


class Console:
    def __init__(self, port: int, deps: ConsoleDeps) -> None:
        self.deps = deps
        console = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                console.get(self)

            def do_HEAD(self) -> None:
                console.get(self)

            def do_POST(self) -> None:
                console.post(self)

        self.http = BackgroundHTTPServer(port, Handler, name="console")

    def start(self) -> None:
        self.http.start()

    def stop(self) -> None:
        self.http.stop()

    # ---- routes ----------------------------------------------------------------------------------
    def get(self, request: QuietHandler) -> None:
        url = urlsplit(request.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path == "/":
            request.send_body(200, self.page().encode("utf-8"), "text/html; charset=utf-8")
        elif url.path == "/outbox":
            try:
                since = int(query.get("since", "0"))
                wait = min(float(query.get("wait", "0")), MAX_WAIT_SECONDS)
            except ValueError:
                request.send_json(400, {"error": "since must be a whole number and wait a number of seconds"})
                return
            outbox = self.deps.outbox
            request.send_json(200, outbox.wait(since, wait) if wait > 0 else outbox.items(since))
        elif url.path == "/token":
            self.token(request, query)
        elif url.path == "/.well-known/jwks.json":
            request.send_json(200, self.deps.key.jwks())
        elif url.path == "/health":
            request.send_json(200, {"ok": True, "schedules": sorted(self.deps.scheduler.schedules)})
        else:
            request.send_json(404, {"error": "not found", "routes": self.routes()})

    def post(self, request: QuietHandler) -> None:
        path = urlsplit(request.path).path
        body = request.read_body()
        if body is None:
            return
        if path == "/sms":
            self.sms(request, body)
        elif path.startswith("/schedules/"):
            self.schedule(request, path.removeprefix("/schedules/"))
        else:
            request.send_json(404, {"error": "not found", "routes": self.routes()})

    @staticmethod
    def routes() -> list[str]:
        return ["GET /", "GET /outbox[?since=N&wait=SECONDS]", "GET /token?role=agent|manager|admin&user=NAME",
                "GET /.well-known/jwks.json", "POST /sms {from,to,body}", "POST /schedules/NAME"]

    def token(self, request: QuietHandler, query: Mapping[str, str]) -> None:
        role = query.get("role", "agent")
        try:
            token = sign_token(self.deps.key, role, query.get("user"))
        except TokenRequestError as exc:
            request.send_json(400, {"error": str(exc), "roles": list(ROLES)})
            return
        request.send_json(200, {"token": token, "token_type": "Bearer", "role": role.strip().lower(),
                                "user": query.get("user") or f"local-{role.strip().lower()}",
                                "expires_in": TOKEN_LIFETIME_SECONDS, "kid": self.deps.key.kid})

    def sms(self, request: QuietHandler, body: bytes) -> None:
        try:
            document = json.loads(body or b"{}")
        except ValueError:
            request.send_json(400, {"error": "body must be JSON: {\"from\", \"to\", \"body\"}"})
            return
        if not isinstance(document, dict):
            request.send_json(400, {"error": "body must be a JSON object"})
            return
        origination, destination, text = document.get("from"), document.get("to"), document.get("body")
        problems = [name for name, value in (("from", origination), ("to", destination))
                    if not isinstance(value, str) or not E164.match(value)]
        if problems:
            request.send_json(400, {"error": f"{' and '.join(problems)} must be E.164 numbers like +4915112345678"})
            return
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_SMS_CHARS:
            request.send_json(400, {"error": f"body must be 1 to {MAX_SMS_CHARS} characters"})
            return
        assert isinstance(origination, str) and isinstance(destination, str)
        inbound_id = document.get("inboundMessageId")
        message = two_way_sms(origination, destination, text,
                              inbound_id if isinstance(inbound_id, str) and inbound_id else None,
                              document.get("previousPublishedMessageId") or None)
        self.deps.publish_sms(message)
        log.info("SMS: received %s (%d characters)", message["inboundMessageId"], len(text))
        request.send_json(202, {"inboundMessageId": message["inboundMessageId"],
                                "handlers": self.deps.sms_functions,
                                **({} if self.deps.sms_functions else
                                   {"note": "published; no SMS handler is declared in app.py yet"})})

    def schedule(self, request: QuietHandler, name: str) -> None:
        scheduler = self.deps.scheduler
        if name not in scheduler.schedules:
            request.send_json(404, {"error": f"no schedule named {name[:80]!r}",
                                    "schedules": sorted(scheduler.schedules)})
            return
        done = scheduler.run_now(name)
        try:
            result = done.result(timeout=SCHEDULE_WAIT_SECONDS)
        except FutureTimeout:
            request.send_json(504, {"schedule": name, "error": "still running", "queued": True})
            return
        except Exception as exc:
            request.send_json(500, {"schedule": name, "error": exc.__class__.__name__})
            return
        request.send_json(200, {"schedule": name, "result": _json_safe(result)})

    # ---- page ------------------------------------------------------------------------------------
    def page(self) -> str:
        e = html.escape
        rows = []
        for item in reversed(self.deps.outbox.items()):
            to = ", ".join(item.get("to") or [])
            rows.append(
                "<article><header>"
                f"<b>{e(item['channel'])}</b> · {e(item['time'])} · from {e(item.get('from') or '')} "
                f"to {e(to)}<br><b>{e(item.get('subject') or '')}</b><br>"
                f"<small>Message-ID {e(item.get('message_id') or '')}"
                + (f" · Reply-To {e(item['reply_to'])}" if item.get("reply_to") else "")
                + f"</small></header><pre>{e(item.get('text') or '')}</pre></article>"
            )
        links = "".join(f"<li>{e(name)}: <code>{e(url)}</code></li>" for name, url in self.deps.links.items())
        return (
            "<!doctype html><html lang=en><head><meta charset=utf-8><meta http-equiv=refresh content=5>"
            "<title>ShopDesk local outbox</title><style>body{font:15px system-ui;margin:2em auto;max-width:60em}"
            "article{border:1px solid #ccc;border-radius:6px;margin:1em 0;padding:.5em 1em}"
            "pre{white-space:pre-wrap}</style></head><body><h1>ShopDesk local outbox</h1>"
            f"<ul>{links}</ul><p>{len(rows)} sent (newest first; refreshes every 5 s). JSON: "
            "<a href=/outbox>/outbox</a> · tokens: <a href='/token?role=agent'>agent</a>, "
            "<a href='/token?role=manager'>manager</a></p>"
            + ("".join(rows) or "<p>Nothing sent yet. Mail support@… through the SMTP port.</p>")
            + "</body></html>"
        )
